"""Pure-Python standards encodings and calculations: no Django import allowed here."""
