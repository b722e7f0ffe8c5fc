"""``mnist-tui inspect RUN``: inside a saved run's model, headless: what its first layer
learned, where it looks in one digit, how the test digits sit in its last hidden layer,
and how training moved inside it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mnist_tui.cli.console import console, load_data, print_json
from mnist_tui.cli.exit_codes import ExitCode
from mnist_tui.cli.options import CliError
from mnist_tui.core.data.mnist import MnistData
from mnist_tui.core.digits.textart import render_halfblocks
from mnist_tui.core.inside.errors import InsideError
from mnist_tui.core.inside.pictures import diverging_hex, glyph_rows, heat_grid, signed_unit
from mnist_tui.core.inside.scatter import CLASS_COLOURS, Frame, draw
from mnist_tui.core.runs.store import RunInfo, RunStore

if TYPE_CHECKING:
    from mnist_tui.core.inside.weights import FeatureMaps

MAP_METHODS = ("pca", "tsne")
ATTRIBUTION_METHODS = ("ig", "gradient")
PAGE = 12
"""Units a page of ``--weights`` shows."""
TOP_DIGITS = 8
"""Test digits shown for ``--unit``."""


def add_inspect_parser(commands: Any, add_common: Any) -> None:
    """The ``inspect`` subcommand; ``add_common(parser)`` adds ``--data`` and ``--runs-dir``."""
    from mnist_tui.cli.options import RUN_HELP, digit, positive

    inspect = commands.add_parser(
        "inspect",
        help="inside a run's model: weights, attributions, a map of the digits, training",
        description="Inside a saved run's model. --weights: its first layer's units (an "
        "MLP's 784 weights each as a 28x28 picture, a convnet's filters), the most "
        "important first (outgoing weight norm): # * + . above zero, % = - , below. "
        "--attribution INDEX: where it looks in test digit INDEX (integrated "
        "gradients from a black digit, or plain gradients), with the completeness check. "
        "--map: the 10,000 test digits' last hidden layer in 2-D (PCA at once; t-SNE in "
        "about 10 s, then cached in the run's folder) and its neighbour agreement. "
        "--training: each layer's weights, activations, dead ReLU units and gradient "
        "norm at each epoch's end, as recorded while it trained.",
    )
    inspect.add_argument("run", help=RUN_HELP)
    what = inspect.add_mutually_exclusive_group(required=True)
    what.add_argument("--weights", action="store_true", help="the first layer's units")
    what.add_argument(
        "--attribution",
        type=int,
        metavar="INDEX",
        help="where the model looks in test digit INDEX (0-based)",
    )
    what.add_argument(
        "--map", action="store_true", help="a 2-D map of the test digits' last hidden layer"
    )
    what.add_argument(
        "--training", action="store_true", help="how the layers moved, epoch by epoch"
    )
    inspect.add_argument(
        "--method",
        choices=(*ATTRIBUTION_METHODS, *MAP_METHODS),
        help="--attribution: ig (integrated gradients, default) or gradient (plain); "
        "--map: pca (default) or tsne",
    )
    inspect.add_argument(
        "--target",
        type=digit,
        metavar="CLASS",
        help="--attribution: the class to explain (default: the model's prediction)",
    )
    inspect.add_argument(
        "--page", type=positive, default=1, metavar="N", help="--weights: page N of units"
    )
    inspect.add_argument(
        "--unit",
        type=int,
        metavar="U",
        help="--weights: unit U's picture and the test digits that excite it most",
    )
    inspect.add_argument(
        "--digit",
        type=int,
        metavar="INDEX",
        help="--weights of a convnet: each conv block's feature maps for test digit INDEX",
    )
    inspect.add_argument(
        "--predictions-of",
        metavar="RUN",
        help="--map: mark another run's predictions and mistakes on this run's map",
    )
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    add_common(inspect)


def cmd_inspect(args: argparse.Namespace) -> int:
    """Print one view of a run's inside; a model that cannot be read inside is exit 4."""
    store = RunStore(args.runs_dir)
    run = store.load(args.run)
    method = args.method
    if args.attribution is not None and method not in (None, *ATTRIBUTION_METHODS):
        raise CliError(f"--attribution takes --method {' or '.join(ATTRIBUTION_METHODS)}")
    if args.map and method not in (None, *MAP_METHODS):
        raise CliError(f"--map takes --method {' or '.join(MAP_METHODS)}")
    try:
        if args.training:
            return _training(run, args.json)
        data = load_data(args, quiet=args.json)
        if args.weights:
            return _weights(store, run, data, args)
        if args.attribution is not None:
            return _attribution(store, run, data, args)
        return _map(store, run, data, args)
    except InsideError as exc:
        console(stderr=True).print(f"error: {escape(run.run_id)}: {escape(str(exc))}")
        return ExitCode.RUN


def _check_index(index: int, data: MnistData, option: str) -> int:
    if not 0 <= index < len(data.y_test):
        raise CliError(f"{option} {index} is not a test digit (0 to {len(data.y_test) - 1:,})")
    return index


def _picture(values: np.ndarray, scale: float | None = None) -> list[Text]:
    """A signed picture as coloured glyphs (:func:`glyph_rows`), one Text per line."""
    rows = glyph_rows(values, scale)
    unit = signed_unit(values, scale)
    if unit.shape[0] % 2:
        unit = np.vstack([unit, unit[-1:]])
    paired = (unit[0::2] + unit[1::2]) / 2
    lines = []
    for row, levels in zip(rows, paired, strict=True):
        line = Text()
        for char, value in zip(row, levels, strict=True):
            line.append(char, style=diverging_hex(float(value)) if char != " " else "")
        lines.append(line)
    return lines


def _side_by_side(out: Console, blocks: list[list[Text]], gap: int = 3) -> None:
    if not blocks:
        return
    width = max(line.cell_len for block in blocks for line in block) + gap
    per_row = max(1, out.width // width)
    for start in range(0, len(blocks), per_row):
        row = blocks[start : start + per_row]
        for place in range(max(len(block) for block in row)):
            line = Text()
            for block in row:
                part = block[place] if place < len(block) else Text()
                line.append_text(part)
                line.append(" " * (width - part.cell_len))
            line.rstrip()
            out.print(line, soft_wrap=True)
        out.print()


def _upscaled(picture: np.ndarray, least: int = 12) -> np.ndarray:
    factor = max(1, -(-least // max(picture.shape)))
    return np.kron(picture, np.ones((factor, factor), dtype=picture.dtype))


def _weights(store: RunStore, run: RunInfo, data: MnistData, args: argparse.Namespace) -> int:
    from mnist_tui.core.inside.weights import UnitActivations, feature_maps, first_layer

    model = store.load_model(run)
    layer = first_layer(model)
    if args.unit is not None and not 0 <= args.unit < len(layer.units):
        raise CliError(
            f"--unit {args.unit} is not a unit of {layer.layer} (0 to {len(layer.units) - 1})"
        )
    top: list[int] = []
    if args.unit is not None:
        top = [int(i) for i in UnitActivations(model, data.x_test).top(args.unit, TOP_DIGITS)]
    maps: tuple[FeatureMaps, ...] = ()
    if args.digit is not None:
        maps = feature_maps(model, data.x_test[_check_index(args.digit, data, "--digit")])
    if args.json:
        print_json(
            {
                "run_id": run.run_id,
                "layer": layer.layer,
                "kind": layer.kind,
                "units": [
                    {
                        "unit": unit.index,
                        "importance": unit.importance,
                        "weights": np.round(unit.picture, 6).tolist(),
                    }
                    for unit in layer.units
                ],
                "unit": None if args.unit is None else {"unit": args.unit, "top_digits": top},
                "feature_maps": [
                    {"layer": item.layer, "maps": np.round(item.maps, 5).tolist()} for item in maps
                ],
            }
        )
        return ExitCode.OK
    out = console()
    what = "units" if layer.kind == "dense" else "filters"
    pages = layer.pages(PAGE)
    page = min(args.page, pages)
    out.print(
        f"[bold]{escape(run.label)}[/]: {escape(layer.layer)}, {len(layer.units)} {what}, the "
        f"most important first (outgoing weight norm); page {page} of {pages}. "
        "[dim]# * + . above zero, % = - , below[/]",
        soft_wrap=True,
    )
    shown = layer.page(page - 1, PAGE)
    if args.unit is not None:
        shown = tuple(unit for unit in layer.units if unit.index == args.unit)
    blocks = []
    for unit in shown:
        picture = unit.picture if layer.kind == "dense" else _upscaled(unit.picture)
        scale = layer.scale if layer.kind == "dense" else None
        header = Text(f"#{unit.index} ({unit.importance:.2f})")
        blocks.append([header, *_picture(picture, scale)])
    _side_by_side(out, blocks)
    if args.unit is not None:
        out.print(f"The test digits that excite unit {args.unit} most:")
        _side_by_side(
            out,
            [
                [
                    Text(f"#{i} ({int(data.y_test[i])})"),
                    *map(Text, render_halfblocks(data.x_test[i])),
                ]
                for i in top
            ],
        )
    for item in maps:
        out.print(f"{escape(item.layer)}: {len(item.maps)} feature maps of test digit {args.digit}")
        _side_by_side(out, [[Text(f"{n}"), *_picture(fm)] for n, fm in enumerate(item.maps)], gap=2)
    return ExitCode.OK


def _attribution(store: RunStore, run: RunInfo, data: MnistData, args: argparse.Namespace) -> int:
    from mnist_tui.core.inside.attribution import attribute

    index = _check_index(args.attribution, data, "--attribution")
    model = store.load_model(run)
    evaluation = store.evaluation(run, data.x_test, data.y_test)
    prediction = int(evaluation.predictions[index])
    target = prediction if args.target is None else args.target
    found = attribute(model, data.x_test[index], target, method=args.method or "ig")
    label = int(data.y_test[index])
    check = found.completeness
    if args.json:
        print_json(
            {
                "run_id": run.run_id,
                "index": index,
                "label": label,
                "prediction": prediction,
                "target": target,
                "method": found.method,
                "output": found.output,
                "steps": found.steps,
                "attribution": np.round(found.values.astype(np.float64), 8).tolist(),
                "completeness": {
                    "sum": check.total,
                    "difference": check.difference,
                    "error": check.error,
                    "holds": check.holds,
                },
            }
        )
        return ExitCode.OK
    out = console()
    name = "integrated gradients" if found.method == "ig" else "plain gradients"
    out.print(
        f"[bold]{escape(run.label)}[/]: test digit {index}, label {label}, predicted "
        f"{prediction}; {name} toward {target} (probability {found.score:.3f}, "
        f"{found.baseline_score:.3f} for a black digit)",
        soft_wrap=True,
    )
    digit = [Text("the digit"), *map(Text, render_halfblocks(data.x_test[index]))]
    where = [Text("where it looks"), *_picture(found.values)]
    _side_by_side(out, [digit, where])
    kind = "sum" if found.method == "ig" else "first-order estimate (gradient x digit)"
    verdict = "[green]holds[/]" if check.holds else "[yellow]is off[/]"
    out.print(
        f"Completeness: {kind} {check.total:+.4f} against f(digit) - f(black) "
        f"{check.difference:+.4f}: {verdict} ({check.error:.1%}"
        + (f", {found.steps} steps)" if found.method == "ig" else ")"),
        soft_wrap=True,
    )
    return ExitCode.OK


def _map(store: RunStore, run: RunInfo, data: MnistData, args: argparse.Namespace) -> int:
    from mnist_tui.core.inside.projection import (
        digit_map,
        last_hidden_features,
        neighbour_agreement,
        principal_components,
    )

    other = store.load(args.predictions_of) if args.predictions_of else run
    evaluation = store.evaluation(other, data.x_test, data.y_test)
    model = store.load_model(run)
    found = digit_map(
        model, run.path, data.x_test, data.y_test, evaluation.predictions, args.method or "pca"
    )
    projection = found.projection
    if found.note:
        console(stderr=True).print(f"[yellow]note[/] {escape(found.note)}", soft_wrap=True)
    if args.json:
        print_json(
            {
                "run_id": run.run_id,
                "predictions_of": other.run_id,
                "method": projection.method,
                "neighbour_agreement": projection.neighbour_agreement,
                "seconds": projection.seconds,
                "cached": projection.cached,
                "points": [
                    {"x": float(x), "y": float(y), "label": int(label), "prediction": int(pred)}
                    for (x, y), label, pred in zip(
                        projection.points, found.labels, found.predictions, strict=True
                    )
                ],
            }
        )
        return ExitCode.OK
    out = console()
    width, height = max(20, min(out.width, 160) - 2), 36
    scatter = draw(
        projection.points,
        found.labels,
        found.mistakes,
        Frame.around(projection.points, width, height),
    )
    for line, classes, wrong in zip(scatter.lines, scatter.classes, scatter.mistakes, strict=True):
        text = Text()
        for char, cls, bad in zip(line, classes, wrong, strict=True):
            style = CLASS_COLOURS[cls] if cls >= 0 else ""
            text.append(char, style=f"{style} underline" if bad else style)
        out.print(text, soft_wrap=True)
    legend = Text("classes: ")
    for cls, colour in enumerate(CLASS_COLOURS):
        legend.append(f"{cls} ", style=f"bold {colour}")
    legend.append(" (cells with a mistake underlined)", style="dim")
    out.print(legend)
    source = "cached" if projection.cached else f"computed in {projection.seconds:.1f}s"
    out.print(
        f"[bold]{escape(run.label)}[/]: {projection.method.upper()} of the last hidden layer "
        f"({source}); neighbour agreement [bold]{projection.neighbour_agreement:.3f}[/] "
        f"(share of digits whose 5 nearest on the map mostly share their label)",
        soft_wrap=True,
    )
    if projection.method != "pca":
        pca = principal_components(last_hidden_features(model, data.x_test))
        out.print(f"PCA's, for comparison: {neighbour_agreement(pca, found.labels):.3f}")
    if other is not run:
        out.print(
            f"Predictions and mistakes of {escape(other.label)} "
            f"({int(found.mistakes.sum()):,} mistakes)"
        )
    return ExitCode.OK


RAMP = " .:-=+*#%@"
"""Share of a histogram's largest bin, low to high, one character each."""


def _heatmap(histograms: list[Any]) -> list[str]:
    """Histograms over epochs as text: a column per epoch, a row per bin, high values on
    top (:func:`heat_grid`)."""
    grid, low, high = heat_grid(histograms, rows=10)
    levels = np.minimum((grid * len(RAMP)).astype(int), len(RAMP) - 1)
    return ["".join(RAMP[v] * 2 for v in row) for row in levels[::-1]] + [
        f"{low:+.2g} .. {high:+.2g}"
    ]


def _training(run: RunInfo, as_json: bool) -> int:
    from mnist_tui.core.inside.dynamics import read_dynamics, to_dict

    epochs = read_dynamics(run.path)
    if as_json:
        print_json({"run_id": run.run_id, **to_dict(epochs)})
        return ExitCode.OK
    out = console()
    if not epochs:
        out.print(f"{escape(run.label)} was saved without its training dynamics.")
        return ExitCode.OK
    table = Table(title=f"{escape(run.label)}: inside, at each epoch's end", title_justify="left")
    for header in ("epoch", "layer", "weights", "activations", "dead ReLU", "grad norm"):
        table.add_column(header, justify="left" if header == "layer" else "right")
    for item in epochs:
        for layer in item.layers:
            table.add_row(
                str(item.epoch),
                escape(layer.layer),
                f"{layer.weights.low:+.3f} .. {layer.weights.high:+.3f}",
                f"{layer.activations.low:+.3f} .. {layer.activations.high:+.3f}",
                "-" if layer.dead_share is None else f"{layer.dead_share:.1%}",
                f"{layer.gradient_norm:.4f}",
            )
    out.print(table)
    names = [layer.layer for layer in epochs[0].layers]
    for place, name in enumerate(names):
        series = [item.layers[place] for item in epochs if place < len(item.layers)]
        out.print(f"[bold]{escape(name)}[/]: weights (left) and activations (right) by epoch")
        weights = _heatmap([layer.weights for layer in series])
        activations = _heatmap([layer.activations for layer in series])
        for left, right in zip(weights, activations, strict=True):
            out.print(f"  {left:<24}  {right}", markup=False)
    return ExitCode.OK
