"""Review rules: read from ``[review]`` of tracework.toml, each with a code and the reason a
worker is shown. A rule only ever *proposes*; a person decides.

Rule kinds:

``required_parts``  fewer than ``min_parts`` of the taxonomy's categories labelled (a part counts
                    when its area reaches ``min_area_px``), the study's "3 of 5 parts" rule;
``min_area``        a labelled part smaller than ``min_area_px`` pixels;
``too_fast``        work time under ``fraction`` of the batch's median work time (stated in the
                    evidence, and only for batches with at least ``min_batch`` timed submissions);
``empty_answer``    no annotation and no answer field with content (``ignore`` lists answer
                    fields that do not count, e.g. a survey code);
``duplicate``       a later submission by the same worker on the same task or asset;
``expression``      a safe expression over the submission's fields (see :mod:`.expr`).

A reason text may contain ``{evidence}``, replaced by the proposal's evidence, so the worker
reads what was found in their own work ("2 of 5 parts: Body, Cable").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tracework.core.errors import ConfigError
from tracework.review import expr as _expr
from tracework.review.reasons import reason_problem

__all__ = [
    "KINDS",
    "Facts",
    "Rule",
    "ReviewConfig",
    "load_review_config",
    "default_rules",
    "config_template",
]

Kind = Literal["required_parts", "min_area", "too_fast", "empty_answer", "duplicate",
               "expression"]
KINDS: tuple[Kind, ...] = ("required_parts", "min_area", "too_fast", "empty_answer",
                           "duplicate", "expression")
Proposal = Literal["reject", "rework"]
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_NO_EVIDENCE = "see the review record"
# Keys of an answer that describe the task form, not what the worker did.
_STRUCTURAL = frozenset({"inputImageProperties", "labelMappings", "labeledImage",
                         "pngImageData", "height", "width"})


@dataclass(frozen=True)
class Facts:
    """What the rules may look at for one submission (loaded by :mod:`.facts`)."""

    id: int
    worker: str
    task_id: str
    asset_id: int | None
    asset_name: str
    batch_id: int
    status: str
    time_kind: str
    work_time_s: float | None
    reward_cents: int | None
    areas: Mapping[str, float]
    annotations: int
    answer: Any
    batch_median_s: float | None
    batch_timed: int
    earlier: tuple[int, str] | None  # (submission id, "task" | "asset") of an earlier one

    def value(self, name: str) -> Any:
        """A field of the expression language."""
        simple = {
            "work_time_s": self.work_time_s, "reward_cents": self.reward_cents,
            "parts": sum(1 for a in self.areas.values() if a > 0),
            "annotations": self.annotations, "total_area": sum(self.areas.values()),
            "batch_median_s": self.batch_median_s, "status": self.status,
            "time_kind": self.time_kind,
            "time_ratio": (self.work_time_s / self.batch_median_s
                           if self.work_time_s is not None and self.batch_median_s else None),
        }
        if name in simple:
            return simple[name]
        head, _, rest = name.partition(".")
        if head == "area":
            return self.areas.get(rest, 0.0)
        if head == "answer" and isinstance(self.answer, dict):
            leaf = self.answer.get(rest)
            return None if leaf is None or isinstance(leaf, (dict, list)) else str(leaf)
        return None


@dataclass(frozen=True)
class Rule:
    code: str
    kind: Kind
    reason: str
    decision: Proposal
    params: Mapping[str, Any] = field(default_factory=dict)
    expression: _expr.Expression | None = None

    def describe(self) -> str:
        """What the rule checks, in words, with its thresholds stated."""
        p = self.params
        if self.kind == "required_parts":
            return (f"fewer than {p['min_parts']} of {len(p['categories'])} parts "
                    f"({', '.join(p['categories'])}) labelled with at least "
                    f"{p['min_area_px']:g} px each")
        if self.kind == "min_area":
            return f"a labelled part smaller than {p['min_area_px']} px"
        if self.kind == "too_fast":
            return (f"work time under {p['fraction']:.0%} of the batch's median work time "
                    f"(batches with at least {p['min_batch']} timed submissions)")
        if self.kind == "empty_answer":
            ignored = f" (not counting {', '.join(p['ignore'])})" if p["ignore"] else ""
            return f"no annotation and no answer{ignored}"
        if self.kind == "duplicate":
            return "a later submission by the same worker on the same task or asset"
        assert self.expression is not None
        return f"expression: {self.expression.text}"

    def check(self, facts: Facts) -> str | None:
        """The evidence when the rule fires on ``facts``, else None."""
        return _CHECKS[self.kind](self, facts)

    def reason_for(self, evidence: str) -> str:
        """The worker-facing reason with the evidence filled in; when that would break the
        platform's limits (too long, or an asset name with a control character), the reason
        points to the review record instead."""
        text = self.reason.replace("{evidence}", evidence)
        if reason_problem(text) is not None:
            text = self.reason.replace("{evidence}", _NO_EVIDENCE)
        return text


def _required_parts(rule: Rule, f: Facts) -> str | None:
    cats = rule.params["categories"]
    done = [c for c in cats if f.areas.get(c, 0.0) >= rule.params["min_area_px"]]
    if len(done) >= rule.params["min_parts"]:
        return None
    return f"{len(done)} of {len(cats)} parts: {', '.join(done) or 'none'}"


def _min_area(rule: Rule, f: Facts) -> str | None:
    limit = rule.params["min_area_px"]
    small = [f"{c} {f.areas[c]:g} px" for c in rule.params["categories"]
             if 0 < f.areas.get(c, 0.0) < limit]
    if not small:
        return None
    return f"{', '.join(small)}, under the minimum of {limit:g} px per part"


def _too_fast(rule: Rule, f: Facts) -> str | None:
    median, fraction = f.batch_median_s, rule.params["fraction"]
    if (f.work_time_s is None or median is None or f.batch_timed < rule.params["min_batch"]):
        return None
    limit = median * fraction
    if f.work_time_s >= limit:
        return None
    return (f"{f.work_time_s:g} s of work, under {fraction:.0%} of the batch's median "
            f"{median:g} s ({limit:g} s)")


def _has_content(value: Any, ignore: frozenset[str]) -> bool:
    if isinstance(value, dict):
        return any(_has_content(v, ignore) for k, v in value.items()
                   if k not in _STRUCTURAL and k not in ignore)
    if isinstance(value, list):
        return any(_has_content(v, ignore) for v in value)
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None and value is not False


def _empty_answer(rule: Rule, f: Facts) -> str | None:
    if f.annotations or _has_content(f.answer, frozenset(rule.params["ignore"])):
        return None
    return "no labelled part and no answer"


def _duplicate(rule: Rule, f: Facts) -> str | None:
    if f.earlier is None:
        return None
    other, on = f.earlier
    what = f"task {f.task_id}" if on == "task" else f"asset {f.asset_name}"
    return f"earlier submission {other} on the same {what}"


def _expression(rule: Rule, f: Facts) -> str | None:
    assert rule.expression is not None
    if not rule.expression.evaluate(f.value):
        return None
    return _expr.describe_fields({n: f.value(n) for n in rule.expression.fields})


_CHECKS = {"required_parts": _required_parts, "min_area": _min_area, "too_fast": _too_fast,
           "empty_answer": _empty_answer, "duplicate": _duplicate, "expression": _expression}


@dataclass(frozen=True)
class ReviewConfig:
    rules: tuple[Rule, ...]
    reversal_window_days: int = 30
    rework_upload: Literal["approve", "skip"] = "approve"
    from_defaults: bool = False

    def rule(self, code: str) -> Rule | None:
        return next((r for r in self.rules if r.code == code), None)


def default_rules(categories: Sequence[str]) -> list[dict[str, Any]]:
    """The rules in force when tracework.toml has no ``[[review.rules]]``."""
    n = len(categories)
    rules: list[dict[str, Any]] = []
    if n:
        need = min(3, n)
        rules.append({"code": "parts_missing", "kind": "required_parts", "min_parts": need,
                      "reason": f"Fewer than {need} of the {n} parts were labelled "
                                "({evidence}). The task asks for at least "
                                f"{need}."})
    rules += [
        {"code": "empty", "kind": "empty_answer",
         "reason": "The submission holds no labels and no answer."},
        {"code": "duplicate", "kind": "duplicate",
         "reason": "This task was already submitted by you ({evidence}); only the first "
                   "submission counts."},
    ]
    return rules


def _fail(code: str, message: str) -> ConfigError:
    return ConfigError(f"tracework.toml [review] rule {code!r}: {message}",
                       hint="See the [review] section of the template in "
                            "`tracework review rules --help`.")


def _number(raw: Mapping[str, Any], code: str, key: str, default: float | None,
            low: float, high: float | None = None) -> float:
    value = raw.get(key, default)
    if value is None:
        raise _fail(code, f"needs {key}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(code, f"{key} must be a number, not {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise _fail(code, f"{key} = {value!r} must be {bound}")
    return float(value)


def _params(kind: Kind, raw: Mapping[str, Any], code: str,
            categories: Sequence[str]) -> dict[str, Any]:
    if kind in ("required_parts", "min_area"):
        cats = raw.get("categories", list(categories))
        if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats) or not cats:
            raise _fail(code, "categories must be a non-empty list of category names")
        unknown = [c for c in cats if c not in categories]
        if unknown:
            raise _fail(code, f"categories {unknown} are not in the taxonomy")
        out: dict[str, Any] = {"categories": cats}
        if kind == "required_parts":
            out["min_parts"] = int(_number(raw, code, "min_parts", None, 1, len(cats)))
            out["min_area_px"] = _number(raw, code, "min_area_px", 1, 0)
        else:
            out["min_area_px"] = _number(raw, code, "min_area_px", None, 1)
        return out
    if kind == "too_fast":
        return {"fraction": _number(raw, code, "fraction", None, 0.01, 0.99),
                "min_batch": int(_number(raw, code, "min_batch", 5, 1))}
    if kind == "empty_answer":
        ignore = raw.get("ignore", [])
        if not isinstance(ignore, list) or not all(isinstance(i, str) for i in ignore):
            raise _fail(code, "ignore must be a list of answer field names")
        return {"ignore": ignore}
    return {}


def _rule(raw: Any, index: int, categories: Sequence[str]) -> Rule:
    if not isinstance(raw, dict):
        raise ConfigError(f"tracework.toml [[review.rules]] entry {index} must be a table")
    code = raw.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise ConfigError(f"tracework.toml [[review.rules]] entry {index}: code {code!r} must "
                          "be lowercase letters, digits and _ (up to 64), starting with a letter")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise _fail(code, f"kind {kind!r} is not one of {', '.join(KINDS)}")
    reason = raw.get("reason")
    if not isinstance(reason, str):
        raise _fail(code, "needs a reason: the text a worker is shown")
    problem = reason_problem(reason.replace("{evidence}", _NO_EVIDENCE))
    if problem is not None:
        raise _fail(code, problem)
    decision = raw.get("propose", "reject")
    if decision not in ("reject", "rework"):
        raise _fail(code, f"propose = {decision!r} must be reject or rework")
    expression = None
    if kind == "expression":
        text = raw.get("expression")
        if not isinstance(text, str):
            raise _fail(code, "needs expression = \"...\"")
        expression = _expr.parse(text, code=code, categories=categories)
    return Rule(code, kind, reason, decision, _params(kind, raw, code, categories), expression)


def load_review_config(config: Mapping[str, Any], categories: Sequence[str]) -> ReviewConfig:
    """The rules and review options of a project (defaults when ``[review]`` says nothing)."""
    section = config.get("review", {})
    if not isinstance(section, dict):
        raise ConfigError("tracework.toml: [review] must be a table")
    raw_rules = section.get("rules")
    defaults = raw_rules is None
    if defaults:
        raw_rules = default_rules(categories)
    if not isinstance(raw_rules, list):
        raise ConfigError("tracework.toml: [review] rules must be written as [[review.rules]] "
                          "tables")
    rules = [_rule(raw, i, categories) for i, raw in enumerate(raw_rules, 1)]
    codes = [r.code for r in rules]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise ConfigError(f"tracework.toml [review]: rule code(s) {dupes} are used twice")
    window = section.get("reversal_window_days", 30)
    if isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= 365:
        raise ConfigError("tracework.toml [review] reversal_window_days must be a whole number "
                          "of days (0 to 365)")
    rework = section.get("rework_upload", "approve")
    if rework not in ("approve", "skip"):
        raise ConfigError("tracework.toml [review] rework_upload must be \"approve\" or \"skip\"")
    return ReviewConfig(tuple(rules), window, rework, defaults)


def config_template(categories: Sequence[str]) -> str:
    """The commented ``[review]`` section for a new tracework.toml."""
    rules = default_rules(categories)
    blocks = []
    for r in rules:
        lines = [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in r.items()]
        blocks.append("[[review.rules]]\n" + "\n".join(lines) + "\n")
    return (
        "# Review: rules PROPOSE, a person decides (`tracework review propose`, then\n"
        "# `tracework review decide`). Every rejection carries a reason a worker can read;\n"
        "# {evidence} in a reason is replaced by what the rule found in that submission.\n"
        "# Kinds: required_parts (min_parts, min_area_px, categories), min_area (min_area_px,\n"
        "# categories), too_fast (fraction of the batch median work time, min_batch),\n"
        "# empty_answer (ignore = answer fields that do not count), duplicate, expression.\n"
        "# propose = \"reject\" (default) or \"rework\".\n"
        "[review]\n"
        "# Days after SubmitTime during which the platform can still reverse a rejection.\n"
        "reversal_window_days = 30\n"
        "# Rework decisions in the platform upload file: \"approve\" (pay, post the item again)\n"
        "# or \"skip\".\n"
        "rework_upload = \"approve\"\n\n"
        + "\n".join(blocks) +
        "\n# More examples (remove the # to use):\n"
        "# [[review.rules]]\n"
        "# code = \"too_fast\"\n"
        "# kind = \"too_fast\"\n"
        "# fraction = 0.2      # under 20% of the batch's median work time\n"
        "# min_batch = 5\n"
        "# reason = \"Submitted faster than the task can be done ({evidence}).\"\n"
        "#\n"
        "# [[review.rules]]\n"
        "# code = \"tiny_part\"\n"
        "# kind = \"min_area\"\n"
        "# min_area_px = 50\n"
        "# propose = \"rework\"\n"
        "# reason = \"Some parts are too small to be real ({evidence}).\"\n"
        "#\n"
        "# [[review.rules]]\n"
        "# code = \"no_code\"\n"
        "# kind = \"expression\"\n"
        "# expression = 'answer.surveycode == \"\" and parts < 1'\n"
        "# reason = \"No labels and no survey code were submitted.\"\n"
    )
