"""Flow cytometry: FCS 2.0/3.0/3.1 files and Gating-ML 2.0 strategies, read and gated by FlowKit.

FlowKit (flowio underneath) does the reading, compensation, transformation and gating; this
module refuses what it should not accept (non-compliant FCS files, other FCS versions, several
data sets in one file, XML with a DTD), turns FlowKit's report into `GateCount`s with exact
percentages computed from the counts, and draws the gating as a dot plot (matplotlib, Agg).

Everything works from bytes in memory (io.BytesIO over the uploaded bytes shares their buffer,
it does not copy them); nothing is written to disk.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any

import flowio
import flowkit as fk
from flowio.exceptions import (
    DataOffsetDiscrepancyError,
    FlowIOException,
    MultipleDataSetsError,
)
from lxml import etree

from vein2vein.core.errors import DomainError

SUPPORTED_FCS_VERSIONS = ("2.0", "3.0", "3.1")
MAX_GATING_ML_BYTES = 5 * 1024 * 1024
_HUNDREDTH = Decimal("0.01")
_IN_MEMORY = "InMemoryFile"
_DATA_TYPES = ("I", "F", "D")


class FlowFileError(DomainError):
    """An FCS file (field "fcs") or a Gating-ML strategy (field "gating_ml") refused."""

    status_code = 400


@dataclass(frozen=True)
class GateCount:
    gate_id: str
    parent: str | None  # parent gate id, None for a gate on all events
    count: int
    percent_of_parent: Decimal  # rounded half up to 0.01
    percent_of_total: Decimal | None = None  # rounded half up to 0.01

    def as_json(self) -> dict[str, Any]:
        return {
            "gate_id": self.gate_id,
            "parent": self.parent,
            "count": self.count,
            "percent_of_parent": str(self.percent_of_parent),
            "percent_of_total": None
            if self.percent_of_total is None
            else str(self.percent_of_total),
        }


@dataclass(frozen=True)
class FcsSummary:
    version: str  # as in the HEADER, e.g. "FCS3.1"
    event_count: int  # $TOT
    channels: tuple[str, ...]  # $PnN, in channel order
    markers: tuple[str, ...]  # $PnS ("" where absent), in channel order
    cytometer: str | None  # $CYT
    data_type: str  # $DATATYPE: I, F, D (A is refused by flowio)
    acquired_on: str | None  # $DATE as written
    sha256: str

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "event_count": self.event_count,
            "channels": list(self.channels),
            "markers": list(self.markers),
            "cytometer": self.cytometer,
            "data_type": self.data_type,
            "acquired_on": self.acquired_on,
            "sha256": self.sha256,
        }


# ---------------------------------------------------------------- FCS


def _fcs_message(exc: BaseException) -> str:
    text = " ".join(str(exc).split()).replace(_IN_MEMORY, "the file") or type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def _open(content: bytes, *, only_text: bool) -> Any:
    """flowio.FlowData, its exceptions turned into FlowFileError(field="fcs")."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return flowio.FlowData(io.BytesIO(content), only_text=only_text)
    except DataOffsetDiscrepancyError as exc:
        raise FlowFileError(
            f"non-compliant FCS file: the HEADER and TEXT segments disagree on the DATA "
            f"segment's location ({_fcs_message(exc)})",
            field="fcs",
        ) from None
    except MultipleDataSetsError:
        raise FlowFileError(
            "the FCS file holds several data sets ($NEXTDATA); upload one data set per file",
            field="fcs",
        ) from None
    except FlowIOException as exc:
        raise FlowFileError(f"non-compliant FCS file: {_fcs_message(exc)}", field="fcs") from None
    except KeyError as exc:
        raise FlowFileError(
            f"non-compliant FCS file: the required TEXT keyword ${str(exc.args[0]).upper()} "
            "is missing",
            field="fcs",
        ) from None
    except Exception as exc:  # flowio on untrusted bytes: a refusal, never a 500
        raise FlowFileError(
            f"unreadable FCS file ({type(exc).__name__}: {_fcs_message(exc)})", field="fcs"
        ) from None


def _flow_data(content: bytes) -> Any:
    """flowio's FlowData over the bytes, every refusal a FlowFileError(field="fcs")."""
    if not content:
        raise FlowFileError("the FCS file is empty", field="fcs")
    if len(content) < 58 or not content.startswith(b"FCS"):
        raise FlowFileError(
            "not an FCS file: it does not begin with an FCS HEADER ('FCS' and a version)",
            field="fcs",
        )
    version = content[3:6].decode("ascii", "replace")
    if version not in SUPPORTED_FCS_VERSIONS:
        raise FlowFileError(
            f"FCS version {version!r} is not supported; "
            f"supported: {', '.join('FCS' + v for v in SUPPORTED_FCS_VERSIONS)}",
            field="fcs",
        )
    header = _open(content, only_text=True)
    data_type = str(header.text.get("datatype", "")).upper()
    if data_type not in _DATA_TYPES:
        raise FlowFileError(
            f"FCS $DATATYPE {data_type or '(missing)'} is not supported; "
            f"supported: {', '.join(_DATA_TYPES)} (integer, float, double)",
            field="fcs",
        )
    mode = str(header.text.get("mode", "L")).upper()
    if mode != "L":
        raise FlowFileError(
            f"FCS $MODE {mode} (histogram data) is not supported; list mode (L) only",
            field="fcs",
        )
    data = _open(content, only_text=False)
    expected = data.event_count * data.channel_count
    if data.events is None or len(data.events) != expected:
        found = 0 if data.events is None else len(data.events)
        raise FlowFileError(
            f"non-compliant FCS file: the DATA segment holds {found} values, the TEXT segment "
            f"declares $TOT x $PAR = {data.event_count} x {data.channel_count} = {expected}",
            field="fcs",
        )
    return data


def _summary(data: Any, content: bytes) -> FcsSummary:
    text = data.text
    return FcsSummary(
        version=f"FCS{data.version}",
        event_count=int(data.event_count),
        channels=tuple(str(label) for label in data.pnn_labels),
        markers=tuple(str(label or "") for label in data.pns_labels),
        cytometer=text.get("cyt") or None,
        data_type=str(text.get("datatype", "")).upper(),
        acquired_on=text.get("date") or None,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def read_fcs(content: bytes) -> FcsSummary:
    """The FCS file's version, event count and channels; a non-compliant file is refused."""
    return _summary(_flow_data(content), content)


def _sample(content: bytes) -> Any:
    data = _flow_data(content)
    try:
        sample = fk.Sample(data, sample_id="upload", subsample=0)
    except Exception as exc:
        raise FlowFileError(
            f"unreadable FCS file ({type(exc).__name__}: {_fcs_message(exc)})", field="fcs"
        ) from None
    # The Sample holds its own float64 events; drop flowio's copy now rather than at return.
    data.events = None
    return sample


# ---------------------------------------------------------------- Gating-ML


def _strategy(gating_ml: bytes) -> Any:
    """FlowKit's GatingStrategy for a Gating-ML 2.0 document; refusals name field "gating_ml"."""
    if not gating_ml or not gating_ml.strip():
        raise FlowFileError("the Gating-ML file is empty", field="gating_ml")
    if len(gating_ml) > MAX_GATING_ML_BYTES:
        raise FlowFileError(
            f"the Gating-ML file is larger than {MAX_GATING_ML_BYTES // (1024 * 1024)} MB",
            field="gating_ml",
        )
    # Parse once without DTDs, entities or network: a Gating-ML document never needs a DTD, and
    # one in an upload is refused before FlowKit's own parse sees it.
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        tree = etree.parse(io.BytesIO(gating_ml), parser)
    except etree.XMLSyntaxError as exc:
        raise FlowFileError(
            f"the Gating-ML file is not well-formed XML: {exc}", field="gating_ml"
        ) from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise FlowFileError(
            "the Gating-ML file declares a DTD (<!DOCTYPE>); Gating-ML 2.0 needs none",
            field="gating_ml",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fk.parse_gating_xml(io.BytesIO(gating_ml))
    except Exception as exc:  # FlowKit raises ValueError, KeyError, GateTreeError...
        raise FlowFileError(
            f"not a usable Gating-ML 2.0 strategy: {_fcs_message(exc)}", field="gating_ml"
        ) from None


def _is_quadrant_container(strategy: Any, gate_id: str, path: tuple[str, ...]) -> bool:
    try:
        gate = strategy.get_gate(gate_id, path)
    except fk.exceptions.QuadrantReferenceError:
        return False
    return isinstance(gate, fk.gates.QuadrantGate)


def check_gating_ml(gating_ml: bytes) -> list[str]:
    """The ids of the gates the strategy counts, in tree order (a QuadrantGate is counted by its
    quadrants, so its own id is not listed); bad XML or a bad strategy -> FlowFileError."""
    strategy = _strategy(gating_ml)
    ids = [
        gate_id
        for gate_id, path in strategy.get_gate_ids()
        if not _is_quadrant_container(strategy, gate_id, path)
    ]
    if not ids:
        raise FlowFileError("the Gating-ML file defines no gate", field="gating_ml")
    duplicates = sorted({gate_id for gate_id in ids if ids.count(gate_id) > 1})
    if duplicates:
        raise FlowFileError(
            f"gate id(s) used more than once: {', '.join(duplicates)}", field="gating_ml"
        )
    return ids


# ---------------------------------------------------------------- gating


def _percent(part: int, whole: int) -> Decimal:
    if whole <= 0:
        return Decimal("0.00")
    return (Decimal(part) * 100 / Decimal(whole)).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)


def _dimension_ids(strategy: Any, dim: Any) -> list[str]:
    """The channel (or matrix fluorochrome) names one gate dimension reads."""
    if isinstance(dim, fk.RatioDimension):
        transform = strategy.transformations.get(dim.ratio_ref)
        return [str(name) for name in getattr(transform, "dimensions", [])]
    if isinstance(dim, fk.QuadrantDivider):
        return [str(dim.dimension_ref)]
    return [str(dim.id)]


def _missing_channels(sample: Any, strategy: Any) -> list[str]:
    """Dimensions of the strategy that name no channel of the file (as FlowKit looks them up:
    $PnN, $PnS, FlowJo's '/'-to-'_' labels, or a fluorochrome of a referenced matrix)."""
    labels = {*sample.pnn_labels, *sample.pns_labels}
    labels |= {label.replace("/", "_") for label in sample.pnn_labels}
    missing: list[str] = []
    for gate_id, path in strategy.get_gate_ids():
        try:
            gate = strategy.get_gate(gate_id, path)
        except fk.exceptions.QuadrantReferenceError:
            continue
        for dim in getattr(gate, "dimensions", None) or []:
            matrix = strategy.comp_matrices.get(getattr(dim, "compensation_ref", None))
            for name in _dimension_ids(strategy, dim):
                if name in labels:
                    continue
                if matrix is not None and name in matrix.fluorochromes:
                    detector = matrix.detectors[matrix.fluorochromes.index(name)]
                    if detector in labels:
                        continue
                if name not in missing:
                    missing.append(name)
    return missing


def _gate(sample: Any, strategy: Any) -> Any:
    missing = _missing_channels(sample, strategy)
    if missing:
        raise FlowFileError(
            f"the Gating-ML strategy gates on {', '.join(missing)}, which the FCS file does not "
            f"have (its channels: {', '.join(sample.pnn_labels)})",
            field="gating_ml",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return strategy.gate_sample(sample)
    except Exception as exc:  # most often a dimension the file lacks
        raise FlowFileError(
            "the Gating-ML strategy cannot be applied to this FCS file "
            f"(channels {', '.join(sample.pnn_labels)}): {_fcs_message(exc)}",
            field="gating_ml",
        ) from None


def _counts(results: Any, total: int) -> dict[str, GateCount]:
    rows = results.report[["gate_name", "parent", "count"]].itertuples(index=False)
    raw: dict[str, tuple[str | None, int]] = {}
    for gate_name, parent, count in rows:
        gate_id = str(gate_name)
        if gate_id in raw:
            raise FlowFileError(
                f"gate id {gate_id} appears at two places in the strategy", field="gating_ml"
            )
        raw[gate_id] = (None if parent in (None, "root") else str(parent), int(count))
    counts: dict[str, GateCount] = {}
    for gate_id, (parent, count) in raw.items():
        parent_count = total if parent is None else raw.get(parent, (None, total))[1]
        counts[gate_id] = GateCount(
            gate_id=gate_id,
            parent=parent,
            count=count,
            percent_of_parent=_percent(count, parent_count),
            percent_of_total=_percent(count, total),
        )
    return counts


def gate_fcs(fcs: bytes, gating_ml: bytes) -> dict[str, GateCount]:
    """{gate id: GateCount} for every gate of the Gating-ML strategy applied to the FCS file."""
    strategy = _strategy(gating_ml)
    sample = _sample(fcs)
    results = _gate(sample, strategy)
    return _counts(results, int(sample.event_count))


# ---------------------------------------------------------------- dot plot


@contextmanager
def _figure(width: float, height: float) -> Iterator[Any]:
    # The object-oriented API with the Agg canvas: no pyplot state, no GUI backend, thread-safe.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    yield figure


def _label(sample: Any, dimension: str) -> str:
    try:
        index = sample.pnn_labels.index(dimension)
    except ValueError:
        return dimension
    marker = sample.pns_labels[index]
    return f"{dimension} ({marker})" if marker else dimension


_PLOT_EVENTS = 20_000  # points drawn per plot: enough to see the populations, small PNGs
_SAFE_ID = re.compile(r"[^\w.\- ]")


def dot_plot_png(fcs: bytes, gating_ml: bytes, *, gate_id: str | None = None) -> bytes:
    """A PNG dot plot of one gate (default: the first gate with two dimensions, else the first):
    the events of its parent population on the gate's two dimensions, after the strategy's
    compensation and transformation, those in the gate coloured, the gate's boundary drawn for
    rectangle, polygon, ellipse and quadrant gates, and the count and percentage in the title.
    An axis the strategy leaves untransformed is drawn symlog when its events span decades."""
    return gate_and_plot(fcs, gating_ml, gate_id=gate_id)[1]


def gate_and_plot(
    fcs: bytes, gating_ml: bytes, *, gate_id: str | None = None
) -> tuple[dict[str, GateCount], bytes]:
    """`gate_fcs` and `dot_plot_png` from one read of the file and one gating."""
    strategy = _strategy(gating_ml)
    sample = _sample(fcs)
    results = _gate(sample, strategy)
    counts = _counts(results, int(sample.event_count))
    return counts, _plot(strategy, sample, results, counts, gate_id)


def _plot(
    strategy: Any, sample: Any, results: Any, counts: dict[str, GateCount], gate_id: str | None
) -> bytes:
    import numpy as np

    chosen = _plot_gate(strategy, counts, gate_id)
    path = _gate_path(strategy, chosen)
    gate = strategy.get_gate(_container_id(strategy, chosen, path), path)
    axes_gate = _axes_gate(strategy, gate)
    try:
        # private in FlowKit 1.3.2 (pinned): the gate's dimensions compensated and transformed
        events = strategy._preprocess_sample_events(sample, axes_gate)
    except Exception as exc:
        raise FlowFileError(
            f"gate {chosen} cannot be plotted: {_fcs_message(exc)}", field="gating_ml"
        ) from None
    membership = results.get_gate_membership(chosen)
    parent = counts[chosen].parent
    in_parent = (
        results.get_gate_membership(parent) if parent is not None else np.ones_like(membership)
    )
    columns = list(events.columns)
    x_name = columns[0]
    y_name = columns[1] if len(columns) > 1 else None
    step = max(1, math.ceil(int(in_parent.sum()) / _PLOT_EVENTS))
    shown = in_parent.nonzero()[0][::step]
    inside = membership[shown]
    x = events[x_name].to_numpy()[shown]
    y = events[y_name].to_numpy()[shown] if y_name is not None else None
    dims = list(getattr(axes_gate, "dimensions", None) or [])
    with _figure(5.5, 5.0) as figure:
        axes = figure.add_subplot(1, 1, 1)
        if y is None:
            axes.hist([x[~inside], x[inside]], bins=128, stacked=True, color=[_OUT, _IN])
            axes.set_ylabel("events")
        else:
            axes.scatter(x[~inside], y[~inside], s=1, c=_OUT, linewidths=0)
            axes.scatter(x[inside], y[inside], s=1, c=_IN, linewidths=0)
            axes.set_ylabel(_label(sample, str(y_name)))
            if _spans_decades(y, dims[1:2]):
                axes.set_yscale("symlog", linthresh=_linthresh(y))
        if _spans_decades(x, dims[:1]):
            axes.set_xscale("symlog", linthresh=_linthresh(x))
        if axes_gate is gate:  # a Boolean gate is shown by its colours alone
            _draw_boundary(axes, gate, chosen)
        axes.set_xlabel(_label(sample, str(x_name)))
        result = counts[chosen]
        of = f"of {parent}" if parent else "of all events"
        axes.set_title(
            f"{_SAFE_ID.sub('_', chosen)}: {result.count} events, "
            f"{result.percent_of_parent} % {_SAFE_ID.sub('_', of)}",
            fontsize=10,
        )
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
    return out.getvalue()


_IN, _OUT = "#c0392b", "#b0b0b0"


def _spans_decades(values: Any, dims: list[Any]) -> bool:
    """An untransformed axis whose upper events lie decades above its typical event."""
    import numpy as np

    if not dims or getattr(dims[0], "transformation_ref", None) is not None:
        return False
    if isinstance(dims[0], fk.RatioDimension) or len(values) == 0:
        return False
    typical = float(np.median(np.abs(values)))
    high = float(np.percentile(values, 99.5))
    return typical > 0 and high / typical > 10


def _linthresh(values: Any) -> float:
    import numpy as np

    typical = float(np.median(np.abs(values)))
    return max(typical / 10, 1e-6)


def _plot_gate(strategy: Any, counts: dict[str, GateCount], gate_id: str | None) -> str:
    if gate_id is not None:
        if gate_id not in counts:
            raise FlowFileError(
                f"gate {gate_id!r} is not in the strategy; gates: {', '.join(counts)}",
                field="gate_id",
            )
        return gate_id
    for candidate in counts:
        path = _gate_path(strategy, candidate)
        gate = strategy.get_gate(_container_id(strategy, candidate, path), path)
        if len(getattr(gate, "dimensions", [])) >= 2:
            return candidate
    return next(iter(counts))


def _axes_gate(strategy: Any, gate: Any, depth: int = 0) -> Any:
    """The gate whose dimensions are the plot's axes: the gate itself, or for a Boolean gate
    (which has none) the first gate it references that has some."""
    if getattr(gate, "dimensions", None) or depth > 20:
        return gate
    for reference in getattr(gate, "gate_refs", None) or []:
        ref_path = tuple(reference["path"])
        referenced = strategy.get_gate(
            _container_id(strategy, reference["ref"], ref_path), ref_path
        )
        found = _axes_gate(strategy, referenced, depth + 1)
        if getattr(found, "dimensions", None):
            return found
    raise FlowFileError(f"gate {gate.gate_name} has no dimension to plot", field="gate_id")


def _gate_path(strategy: Any, gate_id: str) -> tuple[str, ...]:
    for name, path in strategy.get_gate_ids():
        if name == gate_id:
            return tuple(path)
    raise FlowFileError(f"gate {gate_id!r} is not in the strategy", field="gate_id")


def _container_id(strategy: Any, gate_id: str, path: tuple[str, ...]) -> str:
    """A quadrant is drawn through its QuadrantGate (the last element of its path)."""
    try:
        strategy.get_gate(gate_id, path)
    except fk.exceptions.QuadrantReferenceError:
        return path[-1]
    return gate_id


def _draw_boundary(axes: Any, gate: Any, gate_id: str) -> None:
    """The gate's outline in the plotted (transformed) space, where FlowKit's gate is simple."""
    gates = fk.gates
    style: dict[str, Any] = {"color": "#1f4e79", "linewidth": 1.2}
    if isinstance(gate, gates.RectangleGate):
        dims = gate.dimensions
        if len(dims) >= 1:
            for bound in (dims[0].min, dims[0].max):
                if bound is not None:
                    axes.axvline(bound, **style)
        if len(dims) >= 2:
            for bound in (dims[1].min, dims[1].max):
                if bound is not None:
                    axes.axhline(bound, **style)
    elif isinstance(gate, gates.PolygonGate):
        import numpy as np

        # Each edge as many short segments, so that it stays straight in data space on a
        # symlog axis too.
        corners = np.asarray([*gate.vertices, gate.vertices[0]], dtype=float)
        steps = np.linspace(0, 1, 64)[:, None]
        outline = np.concatenate([a + steps * (b - a) for a, b in pairwise(corners)])
        axes.plot(outline[:, 0], outline[:, 1], **style)
    elif isinstance(gate, gates.EllipsoidGate) and len(gate.coordinates) == 2:
        import numpy as np

        values, vectors = np.linalg.eigh(np.asarray(gate.covariance_matrix, dtype=float))
        angles = np.linspace(0, 2 * np.pi, 200)
        circle = np.stack([np.cos(angles), np.sin(angles)])
        radii = np.sqrt(np.clip(values, 0, None) * float(gate.distance_square))
        outline = vectors @ (radii[:, None] * circle)
        axes.plot(
            outline[0] + float(gate.coordinates[0]),
            outline[1] + float(gate.coordinates[1]),
            **style,
        )
    elif isinstance(gate, gates.QuadrantGate):
        for index, divider in enumerate(gate.dimensions):
            for value in divider.values:
                (axes.axvline if index == 0 else axes.axhline)(value, **style)
