"""Instrument import for QC: field libraries, never hand parsers.

- `counters`: cell-counter exports through allotropy (Allotrope Simple Model, cell counting).
- `flow`: FCS 2.0/3.0/3.1 files and Gating-ML 2.0 strategies through FlowKit (flowio underneath).

Pure functions over bytes: no Django models, no database. Bad input raises a DomainError subclass
naming the field, so a page or the API answers 4xx and a command exits with a message.
The modules are imported on their own (`from vein2vein.qc.instruments.flow import gate_fcs`) so
that loading one library does not load the other.
"""
