"""What a run leaves beside its result file: kept generators, sample pictures, TensorBoard events.

Layout, for a run file ``OUT/RUN_ID.json``::

    OUT/RUN_ID/generator.safetensors              the generator of the last evaluation point
    OUT/RUN_ID/generator-step00000480.safetensors one per evaluation point (--keep-generators all)
    OUT/RUN_ID/samples/step00000480.png           the picture of each evaluation point
    TB/RUN_ID/events.out.tfevents.*               with --tensorboard TB (below)

TensorBoard (``--tensorboard TB``): every metric row as a scalar tagged ``quality/METRIC``,
``train/METRIC`` or ``speed/METRIC`` (:func:`tensorboard_tag`) and each evaluation picture as
the image ``samples/evaluation``, all with the images seen as the step
(:func:`tensorboard_step`), so that runs with equal images seen line up whatever their batch
size or D steps per G step.

A generator file is weights only (safetensors: no pickle, nothing executable) and carries in
its metadata what rebuilds the network through the registries: model name and options, dataset
and data options, the data spec, z_dim, whether it is conditional, the step it was evaluated at
and the EvalSpec (whose seed gives the fixed evaluation noise). Pictures are drawn from that
fixed noise, so the pictures over time show the same latents.

Every file is written atomically (temporary name, fsync, rename) while the run holds its lock
(the evaluation point copies the samples a picture needs; a writer thread draws, encodes and
writes it while training continues; the run waits for it at the next evaluation point and
before it ends);
the run directory, the samples directory and each file refuse symlinks, like the checkpoint and
lock paths. A run that starts from scratch removes the pictures and generators of an earlier
attempt; a resumed run removes those of evaluation points after its checkpoint (they will be
drawn again). Checkpoints are deleted when a run completes; these files stay.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any, Optional, Union

from ganbench.api.errors import UsageError
from ganbench.store.safepath import atomic_write, refuse_symlink, safe_child

GENERATOR_FORMAT = "ganbench-generator/1"
FINAL_GENERATOR = "generator.safetensors"
SAMPLES_DIR = "samples"
KEEP_CHOICES = ("final", "all")
MAX_GENERATOR_BYTES = 4 * 2**30
MAX_Z_DIM = 2**16
MAX_SAMPLE_ELEMENTS = 2**24  # numbers in one sample (3 x 2048 x 2048 images fit)
MAX_CLASSES = 100_000
MAX_D_ELEMENTS = 2**30  # D is built beside G (model.build makes both): at most 4 GiB
_STEP_FILE = re.compile(r"^(?:step|generator-step)(\d{8,})\.(?:png|safetensors)$")


def run_dir(out_dir: Union[str, Path], run_id: str, create: bool = False) -> Path:
    """``OUT/RUN_ID``: the run's artifact directory (refused when it is a symlink or a file)."""
    path = refuse_symlink(safe_child(out_dir, run_id))
    if path.exists() and not path.is_dir():
        raise UsageError(f"'{path}' is not a directory: ganbench keeps the run's generator "
                         "and pictures there; remove it")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def samples_dir(out_dir: Union[str, Path], run_id: str, create: bool = False) -> Path:
    path = refuse_symlink(run_dir(out_dir, run_id, create) / SAMPLES_DIR)
    if path.exists() and not path.is_dir():
        raise UsageError(f"'{path}' is not a directory; remove it")
    if create:
        path.mkdir(exist_ok=True)
    return path


def picture_name(step: int) -> str:
    return f"step{step:08d}.png"


def generator_name(step: Optional[int] = None) -> str:
    return FINAL_GENERATOR if step is None else f"generator-step{step:08d}.safetensors"


def step_of(name: str) -> Optional[int]:
    m = _STEP_FILE.match(name)
    return int(m.group(1)) if m else None


def pictures(out_dir: Union[str, Path], run_id: str) -> list[tuple[int, Path]]:
    """``(step, path)`` of a run's pictures, by step (empty when there are none)."""
    d = samples_dir(out_dir, run_id)
    if not d.is_dir():
        return []
    found = [(step_of(p.name), p) for p in d.iterdir()
             if p.suffix == ".png" and not p.is_symlink() and p.is_file()]
    return sorted((s, p) for s, p in found if s is not None)


# ------------------------------------------------------------------------------ generators


def generator_record(ctx, win=None) -> dict[str, Any]:
    """What rebuilds the evaluated generator of ``ctx`` through the registries."""
    from dataclasses import asdict

    job, spec = ctx.job, ctx.data.spec
    return {
        "run_id": job.run_id, "variant": job.variant, "model": job.model,
        "model_options": {k: list(v) if isinstance(v, tuple) else v
                          for k, v in job.model_options},
        "dataset": job.dataset, "data_options": dict(job.data_options),
        "data_spec": {"kind": spec.kind, "shape": list(spec.shape),
                      "num_classes": spec.num_classes},
        "z_dim": job.hparams.z_dim, "conditional": bool(ctx.conditional),
        "step": ctx.step, "images_seen": ctx.images_seen, "eval_spec": asdict(ctx.eval_spec),
        "window": win,
    }


def generator_bytes(module, record: dict[str, Any]) -> bytes:
    """A safetensors file of ``module``'s state dict with ``record`` in its metadata."""
    from safetensors.torch import save

    tensors = {k: v.detach().to("cpu").contiguous().clone()
               for k, v in module.state_dict().items()}
    return save(tensors, metadata={"format": GENERATOR_FORMAT,
                                   "ganbench": json.dumps(record, sort_keys=True)})


def read_generator(path: Union[str, Path]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(record, state_dict)`` of a generator file; UsageError when it is not one."""
    import stat

    from safetensors.torch import load

    path = Path(path)
    if path.is_symlink():
        raise UsageError(f"'{path}' is a symlink: ganbench will not follow it")
    try:
        st = os.stat(path)
    except OSError:
        raise UsageError(f"no generator file '{path}' (the run kept none: was it trained by "
                         "this version of ganbench, and did it finish?)") from None
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_GENERATOR_BYTES:
        raise UsageError(f"'{path}' is not a regular file of at most "
                         f"{MAX_GENERATOR_BYTES >> 30} GiB")
    data = path.read_bytes()
    try:
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + n])
        meta = header.get("__metadata__") or {}
        if meta.get("format") != GENERATOR_FORMAT:
            raise ValueError(f"not a {GENERATOR_FORMAT} file")
        record = json.loads(meta["ganbench"])
        if not isinstance(record, dict):
            raise ValueError("its metadata is not an object")
        state = load(data)
    except Exception as exc:  # json, safetensors and key errors of a damaged file
        raise UsageError(f"'{path}' is not a ganbench generator file "
                         f"({type(exc).__name__}: {str(exc)[:160]})") from None
    return check_record(record, path), state


_RECORD_MODEL = None


def _record_model():
    """The pydantic model of a generator record (built on first use); every size bounded."""
    global _RECORD_MODEL
    if _RECORD_MODEL is not None:
        return _RECORD_MODEL
    import dataclasses
    import math
    import typing
    from typing import Annotated, Literal

    from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StrictBool,
                          StrictFloat, StrictInt, StrictStr, create_model, model_validator)

    from ganbench.api.evalspec import EvalSpec
    from ganbench.planning.validate import MAX_EVAL_SAMPLES, MAX_SEED

    def finite(v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("not finite")
        return v

    Count = Annotated[StrictInt, Field(ge=0, le=2**62)]
    Number = Annotated[typing.Union[StrictInt, StrictFloat], AfterValidator(finite)]
    strict = ConfigDict(extra="forbid", strict=True)
    hints = typing.get_type_hints(EvalSpec)
    bounds = {"n_samples": Field(ge=1, le=MAX_EVAL_SAMPLES), "seed": Field(ge=0, le=MAX_SEED),
              "n_reference": Field(ge=0, le=2**40), "resize": Field(ge=1, le=2**14)}
    fields = {f.name: (Annotated[hints[f.name], bounds[f.name]] if f.name in bounds
                       else hints[f.name], f.default) for f in dataclasses.fields(EvalSpec)}
    EvalRecord = create_model("EvalSpecRecord", __config__=strict, **fields)

    class DataSpecRecord(BaseModel):
        model_config = strict
        kind: Literal["points", "images"]
        shape: Annotated[list[Annotated[StrictInt, Field(ge=1, le=MAX_SAMPLE_ELEMENTS)]],
                         Field(min_length=1, max_length=3)]
        num_classes: Annotated[StrictInt, Field(ge=0, le=MAX_CLASSES)]

        @model_validator(mode="after")
        def _fits(self):
            if math.prod(self.shape) > MAX_SAMPLE_ELEMENTS:
                raise ValueError(f"a sample of shape {self.shape} has more than "
                                 f"{MAX_SAMPLE_ELEMENTS} numbers")
            if self.kind == "images" and len(self.shape) != 3:
                raise ValueError(f"images have a shape (C, H, W), not {self.shape}")
            if self.kind == "points" and len(self.shape) != 1:
                raise ValueError(f"points have a shape (d,), not {self.shape}")
            return self

    class Record(BaseModel):
        model_config = ConfigDict(extra="allow", strict=True)
        run_id: StrictStr
        model: Annotated[StrictStr, Field(min_length=1)]
        model_options: dict[StrictStr, typing.Any] = {}
        dataset: Annotated[StrictStr, Field(min_length=1)]
        data_options: dict[StrictStr, typing.Any] = {}
        data_spec: DataSpecRecord
        z_dim: Annotated[StrictInt, Field(ge=1, le=MAX_Z_DIM)]
        conditional: StrictBool
        step: Count
        images_seen: typing.Optional[Count] = None
        eval_spec: EvalRecord
        window: typing.Optional[Annotated[list[Number], Field(min_length=4, max_length=4)]] = None

        @model_validator(mode="after")
        def _consistent(self):
            if self.conditional and self.data_spec.num_classes < 2:
                raise ValueError("a conditional generator needs at least 2 classes")
            w = self.window
            if w is not None and not (math.isfinite(w[1] - w[0]) and w[1] > w[0]
                                      and math.isfinite(w[3] - w[2]) and w[3] > w[2]):
                raise ValueError(f"the plot window {w} is not [x_lo, x_hi, y_lo, y_hi] with "
                                 "lo < hi")
            return self

    _RECORD_MODEL = Record
    return Record


def check_record(record: dict[str, Any], path: Union[str, Path]) -> dict[str, Any]:
    """``record`` validated (pydantic; every size bounded before anything is allocated), as a
    plain dict; UsageError naming ``path`` and the first invalid field."""
    from pydantic import ValidationError

    try:
        checked = _record_model().model_validate(record)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"])) or "record"
        raise UsageError(f"'{path}' holds an invalid generator record: {where}: "
                         f"{err['msg'][:200]}") from None
    return checked.model_dump()


def build_generator(record: dict[str, Any], state: dict[str, Any], reg,
                    path: Union[str, Path] = "the generator file"):
    """The generator described by ``record`` (validated by :func:`read_generator`) with
    weights ``state`` (CPU, eval mode). The model is first built on torch's meta device (no
    memory): a model that is not the one of the weights, or whose D would be huge, is refused
    before anything is allocated."""
    import contextlib

    import torch

    from ganbench.api.errors import first_line
    from ganbench.api.specs import DataSpec

    ds = record["data_spec"]
    spec = DataSpec(ds["kind"], tuple(ds["shape"]), ds["num_classes"])
    try:
        model = reg.models.get(record["model"])
    except UsageError as exc:
        raise UsageError(f"'{path}': {exc}") from None
    if record["dataset"] in reg.datasets:
        known = reg.datasets.get(record["dataset"]).spec.kind
        if known != spec.kind:
            raise UsageError(f"'{path}' declares {spec.kind} for dataset "
                             f"'{record['dataset']}', which holds {known}")
    if model.conditional != record["conditional"]:
        raise UsageError(f"'{path}': model '{model.name}' is "
                         f"{'' if model.conditional else 'not '}conditional, the record says "
                         "otherwise")
    why = model.check(spec)
    if why:
        raise UsageError(f"'{path}': {why}")
    options = {k: tuple(v) if isinstance(v, list) else v
               for k, v in record["model_options"].items()}

    def build(meta: bool):
        try:
            with torch.device("meta") if meta else contextlib.nullcontext():
                return model.build(spec, record["z_dim"], **options)
        except UsageError as exc:  # e.g. an option the model does not take
            raise UsageError(f"'{path}': {exc}") from None
        except Exception as exc:  # a record the model cannot be built from
            if meta:
                return None  # a model that cannot be built without memory: not checked here
            raise UsageError(f"'{path}': model '{model.name}' cannot be built from its "
                             f"record ({first_line(exc, 160)})") from None

    built = build(meta=True)
    if built is not None:
        g, d = built
        want = {k: tuple(v.shape) for k, v in g.state_dict().items()}
        have = {k: tuple(v.shape) for k, v in state.items()}
        if want != have:
            diff = sorted(set(want) ^ set(have)) or sorted(k for k in want if want[k] != have[k])
            raise UsageError(f"the kept weights in '{path}' do not fit model '{model.name}' "
                             f"(they differ at {', '.join(diff[:3])})")
        if sum(v.numel() for v in d.state_dict().values()) > MAX_D_ELEMENTS:
            raise UsageError(f"'{path}': the options of model '{model.name}' make a D of more "
                             f"than {MAX_D_ELEMENTS} numbers")
        del g, d, built
    g, _ = build(meta=False)
    try:
        g.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise UsageError(f"the kept weights in '{path}' do not fit model '{model.name}' "
                         f"({str(exc).splitlines()[0][:200]})") from None
    return g.eval()


# ------------------------------------------------------------------------------ TensorBoard

TB_SAMPLES = "samples/evaluation"


def tensorboard_tag(row: dict[str, Any]) -> str:
    """The TensorBoard tag of a metric row: ``speed/`` for what measures the machine
    (``results.MACHINE_METRICS``: images/s, peak memory), ``quality/`` for a metric with a
    direction (higher or lower is better: FID, modes covered ...), ``train/`` for the
    training statistics without one (D/G losses, D's outputs, G's gradient norm); TensorBoard
    shows each group as a section."""
    from ganbench.store.results import MACHINE_METRICS

    metric = str(row["metric"])
    if metric in MACHINE_METRICS:
        return f"speed/{metric}"
    return f"{'train' if row.get('higher_is_better') is None else 'quality'}/{metric}"


def tensorboard_step(row: dict[str, Any]) -> int:
    """The TensorBoard step of a metric row: the images seen (real training images D was
    shown), so that variants of different batch sizes or D steps per G step line up on an
    equal budget of data; G steps are the row's ``step`` in the run file."""
    seen = row.get("images_seen")
    return int(seen if seen is not None else row["step"])


# ------------------------------------------------------------------------------ the writer


class RunArtifacts:
    """Writes one run's pictures, generators and TensorBoard events; the runner calls
    :meth:`start` once (after a checkpoint was or was not restored), :meth:`evaluated` at
    every evaluation point and :meth:`finish` at the end."""

    def __init__(self, out_dir: Union[str, Path], run_id: str, *, keep: str = "final",
                 tensorboard: Optional[Union[str, Path]] = None, pictures: bool = True):
        if keep not in KEEP_CHOICES:
            raise UsageError(f"--keep-generators must be one of {', '.join(KEEP_CHOICES)}")
        self.out_dir, self.run_id, self.keep = Path(out_dir), run_id, keep
        self.draw = pictures
        self.tb_dir = Path(tensorboard) / run_id if tensorboard else None
        self._tb = None
        self._last = None  # (generator module, record) of the last evaluation point
        self._win = None
        self._record: Optional[dict[str, Any]] = None
        self._samples: Optional[Path] = None
        self._pool = None  # one thread encodes and writes PNGs while training goes on
        self._pending = None
        self.picture_s = 0.0  # time evaluation points spent on pictures (copying, waiting)
        self.writer_s = 0.0  # time the writer thread spent drawing, encoding, writing them
        self.final_wait_s = 0.0  # time the run's end waited for the last picture
        self.picture_ms: list[float] = []  # per evaluation point (this process)
        self.generator_s = 0.0
        self.tensorboard_s = 0.0
        self.evaluations = 0

    # paths ---------------------------------------------------------------------------
    @property
    def dir(self) -> Path:
        return run_dir(self.out_dir, self.run_id)

    def start(self, resumed_step: Optional[int]) -> None:
        """Remove the files of evaluation points this run will make again: all of them when it
        starts from scratch, those after ``resumed_step`` when it resumes."""
        d = run_dir(self.out_dir, self.run_id, create=True)
        self._samples = samples_dir(self.out_dir, self.run_id, create=True)
        for folder in (d, self._samples):
            for p in folder.iterdir():
                step = step_of(p.name)
                stale = (p.name == FINAL_GENERATOR) or (
                    step is not None and (resumed_step is None or step > resumed_step))
                if stale and (p.is_file() or p.is_symlink()):
                    p.unlink()
        if self.draw:  # here, not in the first evaluation point it would slow down
            import PIL.Image  # noqa: F401
            import PIL.PngImagePlugin  # noqa: F401

            self._writer().submit(lambda: None).result()  # the thread is started
        if self.tb_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:  # tensorboard is a dependency; a broken install
                raise UsageError(f"--tensorboard needs the tensorboard package ({exc})") \
                    from None
            refuse_symlink(self.tb_dir)
            self._tb = SummaryWriter(log_dir=str(self.tb_dir))

    def evaluated(self, ctx, rows: list[dict[str, Any]]) -> None:
        """At an evaluation point: draw its picture from the evaluation samples, remember the
        evaluated generator, log ``rows`` (the point's metric rows) to TensorBoard."""
        from ganbench.store import pictures

        self.evaluations += 1
        if self.draw:
            t0 = time.perf_counter()
            spec = ctx.data.spec
            if self._win is None and spec.kind != "images":
                self._win = pictures.window(ctx.dataset.modes,
                                            None if ctx.dataset.modes else ctx.data.x[:2000])
            subset, grid = pictures.picture_inputs(ctx.samples(), ctx.labels(), kind=spec.kind,
                                                   num_classes=spec.num_classes)
            info = {"run_id": self.run_id, "step": ctx.step, "images_seen": ctx.images_seen,
                    "source": "evaluation"}
            self._drain()  # the previous point's picture (done long ago, normally)
            self._pending = self._writer().submit(
                self._draw_write, self._samples / picture_name(ctx.step), subset, grid,
                ctx.dataset.modes, self._win, info)
            took = time.perf_counter() - t0
            self.picture_s += took
            self.picture_ms.append(round(took * 1000, 3))
        if self._record is None:  # what does not change between evaluation points
            self._record = generator_record(ctx, self._win)
        record = {**self._record, "step": ctx.step, "images_seen": ctx.images_seen}
        self._last = (ctx.generator, record)
        if self.keep == "all":
            self._save_generator(ctx.generator, record, ctx.step)
        if self._tb is not None:
            t0 = time.perf_counter()
            for r in rows:
                if r.get("value") is not None:
                    self._tb.add_scalar(tensorboard_tag(r), r["value"], tensorboard_step(r))
            self._tb.flush()
            self.tensorboard_s += time.perf_counter() - t0

    def _writer(self):
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ganbench-png")
        return self._pool

    def _draw_write(self, path: Path, subset, grid, modes, win, info) -> None:
        """On the writer thread: draw, encode, write; the picture to TensorBoard."""
        from ganbench.store import pictures

        t0 = time.perf_counter()
        picture, layout = pictures.draw(subset, grid, modes=modes, win=win)
        layout.update(info)
        atomic_write(path, pictures.png_bytes(picture, layout))
        if self._tb is not None:
            self._tb.add_image(TB_SAMPLES, pictures.rgb(picture, layout),
                               int(info["images_seen"]), dataformats="HWC")
            self._tb.flush()
        self.writer_s += time.perf_counter() - t0

    def _drain(self) -> None:
        """Wait for the picture being written (its error, if any, is raised here)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _save_generator(self, module, record, step: Optional[int]) -> None:
        t0 = time.perf_counter()
        atomic_write(run_dir(self.out_dir, self.run_id, create=True) / generator_name(step),
                     generator_bytes(module, record))
        self.generator_s += time.perf_counter() - t0

    def finish(self) -> dict[str, Any]:
        """Keep the generator of the last evaluation point; close TensorBoard. Returns what
        the run file records about these files."""
        t0 = time.perf_counter()
        self._drain()
        self.final_wait_s = time.perf_counter() - t0
        if self._last is not None:
            self._save_generator(*self._last, None)
        self.close()
        return {"artifacts": {"dir": self.run_id, "generator": f"{self.run_id}/"
                              f"{FINAL_GENERATOR}" if self._last else None,
                              "keep_generators": self.keep,
                              "picture_s": round(self.picture_s, 4),
                              "picture_ms": self.picture_ms,
                              "picture_writer_s": round(self.writer_s, 4),
                              "picture_final_wait_s": round(self.final_wait_s, 4),
                              "generator_s": round(self.generator_s, 4),
                              "tensorboard_s": round(self.tensorboard_s, 4),
                              "evaluations": self.evaluations}}

    def close(self) -> None:
        try:
            self._drain()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None
