"""Compiling the rules into durable-rules rulesets, and running them safely.

How a condition tree becomes durable-rules rules
------------------------------------------------
Durable-rules matches facts against patterns; it has no notion of "unknown". We give it
one the way Kleene logic does: for every service we build two formulas, MET and UNMET,
over the *known* operands of the profile, and an operand that is unknown is simply left
out of the fact, so that no comparison on it can match (measured: a missing field
matches no operator). A service whose MET rule fires is eligible, whose UNMET rule fires
is ineligible, and one where neither fires is unknown.

Each formula is put in disjunctive normal form and packed into rules, because one
durable-rules pattern holds at most 31 expression nodes (``MAX_SEQUENCE_EXPRESSIONS`` in
rete.c, error 113) and one fact at most ~250 properties (error 302).

Conditions about children ("some child under 2 cared for at home") run in a first stage:
every child is asserted as its own fact, the quantifier bodies are rules over child
facts, and the per-child verdicts become operands of the second, profile stage. Putting
them in one formula would make UNMET a product over the children, exponential in their
number.

Safety (shared/notes/durable-rules-and-streamlit.md): durable-rules' C engine driven
directly (``NativeRuleset``), so none of the Host's background timer threads exists (they
segfault when sessions are deleted out of order); one short-lived session per evaluation,
always deleted in ``finally``; a catch-all rule in every ruleset (deleting a session whose
facts went unhandled segfaults); a lock around assert → collect → delete. No Python runs
inside the engine's firing loop: a fired rule is read by its name, so no exception can
be swallowed by durable's own action handling.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import pickle
import sys
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import durable_rules_engine

from engine.backends.logic import Env, Value, quantifier_body, value_of
from engine.language.facts import Unknown
from engine.language.rules import (
    NEGATION,
    All,
    AnyOf,
    Arith,
    Cases,
    Compare,
    Condition,
    Const,
    DateAdd,
    Expr,
    FactRef,
    Literal,
    Not,
    ParamRef,
    SomeChild,
    Switch,
    Unencoded,
    expr_parts,
)
from engine.language.semantics import Semantics

if TYPE_CHECKING:
    from engine.language.catalog import Catalogue

MAX_PATTERN_EXPRESSIONS = 30  # durable-rules refuses a 32nd; keep one spare
MAX_FACT_OPERANDS = 230  # durable-rules refuses facts of ~253 properties
# durable-rules walks the matching alpha nodes of one fact with a fixed stack of 64
# (MAX_STACK_SIZE in events.c) and refuses the fact with error 303 when more match at
# once: measured at 10 profiles in 20,000 with one ruleset of 148 rules. Fewer rules per
# ruleset keep the branching under it.
MAX_RULES_PER_RULESET = 40
MAX_CONJUNCTIONS = 512  # a formula larger than this is a modelling problem: split the rule

Atom = tuple  # ("cmp", key, op, literal) | ("ref", key, op, key2) | ("ex", key)
Conjunction = frozenset
DNF = list  # list[Conjunction]
TRUE: DNF = [frozenset()]
FALSE: DNF = []


class CompileError(ValueError):
    pass


class DurableError(RuntimeError):
    pass


def to_durable(value: Any) -> Any:
    """An operand value as durable-rules compares it (dates as day numbers)."""
    if isinstance(value, date):
        return value.toordinal()
    if isinstance(value, float):
        value = round(value, 4)
        return int(value) if value.is_integer() else value
    return value


# --- operands -------------------------------------------------------------------------


@dataclass
class OperandTable:
    """Interns each non-literal expression of one scope under a short fact key."""

    prefix: str
    keys: dict[Expr, str] = field(default_factory=dict)
    # Operands that read no fact but the day (a parameter's value today, a date a year
    # back): the same for every profile of one day and residence, so computed once per
    # (day, residence). About half of all operands; bounded, a day is hostile input.
    _day_only: list[tuple[Value, str]] | None = field(default=None, repr=False)
    _per_profile: list[tuple[Value, str]] = field(default_factory=list, repr=False)
    _by_day: dict[tuple, dict[str, Any]] = field(default_factory=dict, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        # The split and the day's values are made from the keys when first asked for, and
        # hold compiled functions (logic.value_of), which do not pickle: a plan kept in the
        # catalogue cache (compile_catalogue) keeps the keys only.
        return {"prefix": self.prefix, "keys": self.keys}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.prefix, self.keys = state["prefix"], state["keys"]
        self._day_only, self._per_profile, self._by_day = None, [], {}

    def key(self, expr: Expr) -> str:
        if expr not in self.keys:
            self.keys[expr] = f"{self.prefix}{len(self.keys)}"
            self._day_only = None
        return self.keys[expr]

    def values(self, env: Env) -> dict[str, Any]:
        # Env.plain_params reads a plain parameter once per profile; this table keeps the
        # operands that read only the day across profiles (measured: 0.1 ms of a 1 ms
        # decision, interleaved runs).
        if self._day_only is None:
            self._split(env)
        assert self._day_only is not None
        out = dict(self._day_values(env))
        for value_in, key in self._per_profile:
            value = value_in(env)
            if not isinstance(value, Unknown):
                out[key] = to_durable(value)
        return out

    def _split(self, env: Env) -> None:
        day_only: list[tuple[Value, str]] = []
        per_profile: list[tuple[Value, str]] = []
        for expr, key in self.keys.items():
            (day_only if _reads_only_the_day(expr, env) else per_profile).append((value_of(expr), key))
        self._day_only, self._per_profile = day_only, per_profile
        self._by_day.clear()

    def _day_values(self, env: Env) -> dict[str, Any]:
        # The residence is in the key because a local parameter overrides a national one
        # where the profile lives (Env.parameter).
        residence = env.facts.get("residence")
        day_key = (env.as_of, residence if isinstance(residence, str) else None)
        found = self._by_day.get(day_key)
        if found is None:
            found = {}
            for value_in, key in self._day_only or ():
                value = value_in(env)
                if not isinstance(value, Unknown):
                    found[key] = to_durable(value)
            if len(self._by_day) >= 64:
                self._by_day.pop(next(iter(self._by_day)))
            self._by_day[day_key] = found
        return found


def _reads_only_the_day(expr: Expr, env: Env) -> bool:
    """Whether an operand's value depends on nothing of the profile but ``as_of`` and
    the residence (a parameter that a local one overrides)."""
    for part in expr_parts(expr):
        if isinstance(part, Cases):
            return False  # its branches' conditions read facts expr_parts does not list
        if isinstance(part, FactRef) and part.path != "as_of":
            return False
        if isinstance(part, ParamRef):
            param = env.catalogue.parameters.get(part.name)
            if param is None or (param.index is not None and part.key is None):
                return False  # a table read by a fact of the profile
    return True


# --- DNF ---------------------------------------------------------------------------------


def _product(a: DNF, b: DNF) -> DNF:
    out = [x | y for x in a for y in b]
    if len(out) > MAX_CONJUNCTIONS:
        raise CompileError(f"condition too large for durable-rules ({len(out)} alternatives); split the rule")
    return _absorb(out)


def _absorb(dnf: DNF) -> DNF:
    unique = list(dict.fromkeys(dnf))
    unique.sort(key=len)
    kept: DNF = []
    for conj in unique:
        if not any(k <= conj for k in kept):
            kept.append(conj)
    return kept


@dataclass(frozen=True, slots=True)
class Constant:
    """A literal operand: written into the pattern, not asserted as a fact."""

    value: Any


PATTERN = Semantics("durable-rules", "condition", "the DNF of its MET or UNMET formula")
OPERAND = Semantics("durable-rules", "expression", "a pattern operand: a constant or an asserted fact")


@dataclass
class Compiler:
    profile_ops: OperandTable = field(default_factory=lambda: OperandTable("p"))
    child_ops: OperandTable = field(default_factory=lambda: OperandTable("c"))
    quantifiers: dict[SomeChild, str] = field(default_factory=dict)  # node -> verdict key

    def dnf(self, cond: Condition, met: bool, scope: str) -> DNF:
        return PATTERN(cond, self, met, scope)

    def _operand(self, expr: Expr, scope: str) -> str:
        table = self.child_ops if scope == "child" else self.profile_ops
        return table.key(expr)


@OPERAND.of(Literal)
def _constant(expr: Literal, compiler: Compiler, scope: str) -> Constant:
    return Constant(expr.value)


@OPERAND.of(FactRef, ParamRef, Arith, DateAdd, Cases)
def _asserted(expr: Expr, compiler: Compiler, scope: str) -> str:
    # Computed by the explanation's own meaning (logic.eval_expr) and asserted as a fact:
    # durable-rules only compares.
    return compiler._operand(expr, scope)


@PATTERN.of(Const)
def _const_pattern(cond: Const, compiler: Compiler, met: bool, scope: str) -> DNF:
    return TRUE if cond.value == met else FALSE


@PATTERN.of(All, AnyOf)
def _combination_pattern(cond: All | AnyOf, compiler: Compiler, met: bool, scope: str) -> DNF:
    conjunctive = isinstance(cond, All) == met  # all-met and any-unmet multiply
    parts = [compiler.dnf(item, met, scope) for item in cond.items]
    if conjunctive:
        out = TRUE
        for part in parts:
            out = _product(out, part)
        return out
    return _absorb([c for part in parts for c in part])


@PATTERN.of(Not)
def _not_pattern(cond: Not, compiler: Compiler, met: bool, scope: str) -> DNF:
    return compiler.dnf(cond.item, not met, scope)


@PATTERN.of(SomeChild)
def _quantifier_pattern(cond: SomeChild, compiler: Compiler, met: bool, scope: str) -> DNF:
    if scope != "profile":
        raise CompileError("some_child cannot be nested in another some_child")
    key = compiler.quantifiers.setdefault(cond, f"q{len(compiler.quantifiers)}")
    return [frozenset({("cmp", key, "eq", met)})]


@PATTERN.of(Unencoded)
def _unencoded_pattern(cond: Unencoded, compiler: Compiler, met: bool, scope: str) -> DNF:
    return FALSE  # never met, never unmet: unknown


@PATTERN.of(Compare)
def _compare_pattern(cond: Compare, compiler: Compiler, met: bool, scope: str) -> DNF:
    op = cond.op if met else NEGATION[cond.op]
    lhs, rhs = cond.lhs, cond.rhs
    if isinstance(lhs, Literal) and isinstance(rhs, Literal):
        from engine.backends.logic import compare

        return TRUE if compare(op, lhs.value, rhs.value) else FALSE
    if isinstance(lhs, Literal):  # put the operand on the left
        swap = {"lt": "gt", "gt": "lt", "lte": "gte", "gte": "lte", "eq": "eq", "neq": "neq"}
        lhs, rhs, op = rhs, lhs, swap[op]
    left = OPERAND(lhs, compiler, scope)
    right = OPERAND(rhs, compiler, scope)
    if isinstance(right, Constant):
        if op in ("in", "not_in"):
            values = [to_durable(v) for v in right.value]
            if op == "in":
                return [frozenset({("cmp", left, "eq", v)}) for v in values]
            return [frozenset({("ex", left)} | {("cmp", left, "neq", v) for v in values})]
        return [frozenset({("cmp", left, op, to_durable(right.value))})]
    # A reference to a missing field can match (measured): guard both sides.
    return [frozenset({("ex", left), ("ex", right), ("ref", left, op, right)})]


@PATTERN.of(Switch)
def _switch_pattern(cond: Switch, compiler: Compiler, met: bool, scope: str) -> DNF:
    key = compiler._operand(_fact_ref(cond.fact), scope)
    out: DNF = []
    for case, branch in cond.cases:
        out.extend(_product([frozenset({("cmp", key, "eq", case)})], compiler.dnf(branch, met, scope)))
    default = cond.default if cond.default is not None else Const(False)
    rest = compiler.dnf(default, met, scope)
    if rest:
        others = frozenset({("ex", key)} | {("cmp", key, "neq", case) for case, _ in cond.cases})
        out.extend(_product([others], rest))
    return _absorb(out)


def _fact_ref(path: str) -> FactRef:
    return FactRef(path)


PATTERN.check_complete()
OPERAND.check_complete()


# --- durable JSON ---------------------------------------------------------------------------

_DURABLE_OP = {"eq": None, "neq": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}


def _atom_json(atom: Atom) -> dict:
    kind = atom[0]
    if kind == "ex":
        return {"$ex": {atom[1]: 1}}
    _, key, op, right = atom
    value = {"$m": right} if kind == "ref" else right
    name = _DURABLE_OP[op]
    return {key: value} if name is None else {name: {key: value}}


def _conj_json(conj: Conjunction) -> list[dict]:
    return [_atom_json(a) for a in sorted(conj, key=repr)]


def pack_rules(kind: str, dnf: DNF) -> list[dict]:
    """Patterns for ``dnf``, each within durable-rules' expression limit."""
    patterns: list[dict] = []
    group: list[Conjunction] = []
    budget = 0
    for conj in dnf:
        size = len(conj) + 2  # an $and node, its atoms and its end marker
        if len(conj) + 3 > MAX_PATTERN_EXPRESSIONS:
            raise CompileError(
                f"a conjunction of {len(conj)} tests exceeds durable-rules' limit; split the rule"
            )
        if group and budget + size + 4 > MAX_PATTERN_EXPRESSIONS:
            patterns.append(_pattern(kind, group))
            group, budget = [], 0
        group.append(conj)
        budget += size
    if group:
        patterns.append(_pattern(kind, group))
    return patterns


def _pattern(kind: str, group: list[Conjunction]) -> dict:
    if len(group) == 1:
        return {"$and": [{"kind": kind}, *_conj_json(group[0])]}
    return {"$and": [{"kind": kind}, {"$or": [{"$and": _conj_json(c)} for c in group]}]}


# --- the compiled catalogue -----------------------------------------------------------------


@dataclass
class Partition:
    ruleset: str
    services: list[str]
    operand_keys: set[str]


class Rules(dict[str, dict]):
    """One ruleset's rules by name, as compile_services makes them, with the JSON text
    durable-rules creates the ruleset from (``text``, see :func:`ruleset_text`), made
    once with the rules: a plan read back from the catalogue cache is not encoded again."""

    def __init__(self, rules: dict[str, dict]):
        super().__init__(rules)
        self.text = ruleset_text(rules)


def ruleset_text(rules: dict[str, dict]) -> str:
    """The JSON of a ruleset's rules as durable-rules reads it: each rule without its
    action marker ('run', which only the runner reads), its name checked."""
    definition = {
        _check_rule_name(rule): {k: v for k, v in body.items() if k != "run"} for rule, body in rules.items()
    }
    return json.dumps(definition, ensure_ascii=False)


@dataclass
class CompiledRules:
    compiler: Compiler
    partitions: list[Partition]
    child_ruleset: str | None
    child_operand_keys: set[str]
    definitions: dict[str, dict]  # ruleset name -> rules, each with its action marker in 'run'
    rule_count: int
    # The rulesets' names begin with it: unique in the process (compile_services).
    prefix: str = ""

    def renamed(self, prefix: str) -> CompiledRules:
        """The same plan with its rulesets named from ``prefix`` instead: a plan read back
        from the cache takes a name no ruleset of this process has (``_serial``)."""

        def name(old: str) -> str:
            assert old.startswith(self.prefix)
            return prefix + old[len(self.prefix) :]

        return CompiledRules(
            self.compiler,
            [Partition(name(p.ruleset), p.services, p.operand_keys) for p in self.partitions],
            None if self.child_ruleset is None else name(self.child_ruleset),
            self.child_operand_keys,
            {name(ruleset): rules for ruleset, rules in self.definitions.items()},
            self.rule_count,
            prefix,
        )


_serial = itertools.count()


def compile_services(conditions: dict[str, Condition], tag: str) -> tuple[CompiledRules, dict[str, dict]]:
    """Compile ``{service: condition}``; returns the plan and the rule definitions with
    action markers ``(stage, name, verdict)`` in place of callables."""
    return _compile(conditions, f"lifeevents_{tag}_{next(_serial)}")


def _compile(conditions: dict[str, Condition], prefix: str) -> tuple[CompiledRules, dict[str, dict]]:
    compiler = Compiler()
    service_dnfs: dict[str, tuple[DNF, DNF]] = {}
    service_keys: dict[str, set[str]] = {}
    for service, cond in conditions.items():
        try:
            met = compiler.dnf(cond, True, "profile")
            unmet = compiler.dnf(cond, False, "profile")
        except CompileError as exc:
            raise CompileError(f"{service}: {exc}") from None
        service_dnfs[service] = (met, unmet)
        service_keys[service] = {a[1] for c in met + unmet for a in c} | {
            a[3] for c in met + unmet for a in c if a[0] == "ref"
        }
    # Child stage: one pair of formulas per quantifier, over child facts.
    child_rules: dict[str, dict] = {}
    for node, qkey in list(compiler.quantifiers.items()):
        body = quantifier_body(node)
        for verdict in (True, False):
            for n, pattern in enumerate(pack_rules("child", compiler.dnf(body, verdict, "child"))):
                child_rules[f"{qkey}|{verdict}|{n}"] = {
                    "all": [{"m": pattern}],
                    "run": ("child", qkey, verdict),
                }
    # Profile stage, partitioned so that no fact exceeds the property limit.
    partitions: list[Partition] = []
    definitions: dict[str, dict] = {}
    current: Partition | None = None
    for service in conditions:
        keys = service_keys[service]
        met, unmet = service_dnfs[service]
        patterns = [(True, p) for p in pack_rules("profile", met)] + [
            (False, p) for p in pack_rules("profile", unmet)
        ]
        if (
            current is None
            or len(current.operand_keys | keys) > MAX_FACT_OPERANDS
            or (
                current.services and len(definitions[current.ruleset]) + len(patterns) > MAX_RULES_PER_RULESET
            )
        ):
            current = Partition(f"{prefix}_p{len(partitions)}", [], set())
            partitions.append(current)
            definitions[current.ruleset] = {}
        current.services.append(service)
        current.operand_keys |= keys
        for n, (verdict, pattern) in enumerate(patterns):
            definitions[current.ruleset][f"{service}|{verdict}|{n}"] = {
                "all": [{"m": pattern}],
                "run": ("profile", service, verdict),
            }
    # Every ruleset gets a catch-all rule, run last, so that no fact is ever unhandled:
    # deleting a session whose facts all went unhandled segfaults durable-rules 2.0.28
    # (measured: assert one unmatched fact, delete_state, rc 139).
    for ruleset in definitions.values():
        ruleset["~catch-all"] = {
            "all": [{"m": {"kind": "profile"}}],
            "pri": 65535,
            "run": ("catch-all", "", None),
        }
    child_name = None
    child_keys = set(compiler.child_ops.keys.values())
    if child_rules:
        if len(child_keys) > MAX_FACT_OPERANDS:
            raise CompileError("too many child facts for one durable-rules fact")
        child_name = f"{prefix}_children"
        child_rules["~catch-all"] = {
            "all": [{"m": {"kind": "child"}}],
            "pri": 65535,
            "run": ("catch-all", "", None),
        }
        definitions[child_name] = child_rules
    for ruleset_name, ruleset_rules in definitions.items():
        definitions[ruleset_name] = Rules(ruleset_rules)
    rule_count = sum(len(r) for r in definitions.values())
    plan = CompiledRules(compiler, partitions, child_name, child_keys, definitions, rule_count, prefix)
    return plan, definitions


# The name of the compiled plan beside the catalogue in its cache (engine/language/cache.py).
STORED_AS = "durable-rules plan"
# The code a plan is compiled by: this module and the meaning it asks of logic
# (quantifier_body, compare). The rule language's own code is in the cache's key.
_COMPILER_CODE = (Path(__file__), Path(__file__).with_name("logic.py"))


def _compiler_digest() -> bytes:
    digest = hashlib.sha256()
    for path in _COMPILER_CODE:
        digest.update(path.read_bytes() + b"\0")
    return digest.digest()


def _conditions_digest(conditions: dict[str, Condition]) -> bytes:
    """The conditions exactly: their order, and every field of every node with its type
    (``Literal(1)`` equals ``Literal(True)`` but does not compile the same), as their
    repr writes them. Not their pickle, which also records which equal objects are one
    (a catalogue read back from the cache shares them unlike the loader's)."""
    return hashlib.sha256(repr(list(conditions.items())).encode()).digest()


def compile_catalogue(conditions: dict[str, Condition], catalogue: Catalogue) -> CompiledRules:
    """``compile_services(conditions, catalogue.version)``'s plan, read back from the
    catalogue cache when one is stored there for these very conditions (a digest of
    them) and this very compiler (a digest of its code); otherwise compiled and, for a
    catalogue that came through the cache, stored beside it. A warm ``lifeevents
    recommend`` then pays only durable-rules' creation of the rulesets."""
    cache = sys.modules.get("engine.language.cache")  # not imported: nothing came through it
    if cache is None or not cache.served(catalogue):
        return compile_services(conditions, catalogue.version)[0]
    # Stored as bytes, unpickled here for each engine: two engines never share a plan's
    # operand tables, and the check is read before anything is unpickled.
    check = _compiler_digest() + _conditions_digest(conditions)
    stored = cache.stored_beside(catalogue, STORED_AS)
    if stored is not None and stored.startswith(check):
        plan = pickle.loads(stored[len(check) :])  # the cache's own file, checked as the catalogue is
        if isinstance(plan, CompiledRules):
            return plan.renamed(f"lifeevents_{catalogue.version}_{next(_serial)}")
    plan, _ = compile_services(conditions, catalogue.version)
    # Pickled now, before any profile fills the operand tables.
    cache.store_beside(catalogue, STORED_AS, check + pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL))
    return plan


def _check_rule_name(name: str) -> str:
    # The runner reads a fired rule's name straight from the action text durable-rules
    # writes ('{"NAME":{"m":...}}'), without decoding the matched fact: a name must not
    # need JSON escaping for that to hold.
    if '"' in name or "\\" in name or any(ord(ch) < 0x20 for ch in name):
        raise CompileError(f"rule name {name!r} cannot be a durable-rules rule name")
    return name


class NativeRuleset:
    """One compiled ruleset, driven through durable-rules' C engine directly.

    durable.engine's Host runs every fired rule through a Python closure that decodes
    the session state and the matched fact from JSON, encodes the state back and stores
    it: ~20 µs and two JSON round trips of a ~200-property fact per fired rule, about 70
    per profile. Our actions only record which rule fired, and the C engine hands over
    exactly that: the rule's name at the head of the action text. So we call the C
    engine as the Host does (``assert_fact``, ``start_action_for_state``,
    ``complete_and_start_action``, ``delete_state``), minus the state round trips that
    no rule of ours reads. No thread is ever started (the Host's timer loops are what
    segfaults, shared/notes), and the runner's lock serialises every call.
    """

    def __init__(self, name: str, rules: dict[str, dict]):
        # compile_services' rules carry their JSON already (Rules); others are encoded here.
        text = rules.text if isinstance(rules, Rules) else ruleset_text(rules)
        self.name = name
        self.handle = durable_rules_engine.create_ruleset(name, text)

    def fire(self, sid: str, facts: list[dict]) -> list[str]:
        """Assert ``facts`` in a fresh session ``sid``; the names of the rules that fired."""
        return [text[2 : text.index('"', 2)] for text in self._fired(sid, facts)]

    def fire_with_index(self, sid: str, facts: list[dict]) -> list[tuple[str, int]]:
        """As ``fire``, with the ``i`` of the fact each rule matched (the child stage's
        index of the child), read from the action text as the name is, without decoding
        the fact (about 15 facts a profile): ``"i":`` (quote, i, quote, colon) can only be
        the key, since a quote inside a JSON string is escaped."""
        out = []
        for text in self._fired(sid, facts):
            # The matched fact follows the name as it was asserted (json.dumps: '"i": 2').
            at = text.index('"i":', text.index('"m":')) + 4
            while text[at] == " ":
                at += 1
            end = at
            while text[end].isdigit():
                end += 1
            out.append((text[2 : text.index('"', 2)], int(text[at:end])))
        return out

    def _fired(self, sid: str, facts: list[dict]) -> list[str]:
        texts: list[str] = []
        handle = self.handle
        payload = [dict(fact, sid=sid) for fact in facts]
        try:
            if len(payload) == 1:
                code, state = durable_rules_engine.assert_fact(
                    handle, json.dumps(payload[0], ensure_ascii=False)
                )
            else:
                code, state = durable_rules_engine.assert_facts(
                    handle, json.dumps(payload, ensure_ascii=False)
                )
            # 1: no rule matched, 2: the fact was already observed; neither fires anything
            # (every ruleset has a catch-all rule, so 1 is not expected).
            if code == 0:
                started = durable_rules_engine.start_action_for_state(handle, state)
                text = started[1] if started else None
                while text:
                    texts.append(text)
                    text = durable_rules_engine.complete_and_start_action(handle, state)
        except Exception as exc:  # the C engine's errors carry only a code
            raise DurableError(f"durable-rules refused a fact in {self.name}: {exc}") from exc
        finally:
            # Always: an unmatched assert creates session state too, and live sessions
            # are capped at 1,024 per ruleset. A refused fact may leave none to delete.
            with contextlib.suppress(Exception):
                durable_rules_engine.delete_state(handle, sid)
        return texts


class DurableRunner:
    """Owns the compiled rulesets in durable-rules' C engine, and evaluates profiles on them."""

    def __init__(self, plan: CompiledRules):
        self.plan = plan
        self._lock = threading.Lock()
        self._sids = itertools.count()
        self.rulesets = {name: NativeRuleset(name, rules) for name, rules in plan.definitions.items()}
        # What each rule's firing says: (stage, service or quantifier, verdict).
        self.markers: dict[str, tuple] = {
            rule: body["run"] for rules in plan.definitions.values() for rule, body in rules.items()
        }

    def decide(self, env: Env) -> dict[str, bool | None]:
        """The status of every compiled service for the profile in ``env``."""
        plan = self.plan
        markers = self.markers
        child_facts = []
        if plan.child_ruleset and env.children:
            for i in range(len(env.children)):
                values = plan.compiler.child_ops.values(env.in_child(i))
                child_facts.append({"kind": "child", "i": i, **values})
        profile_values = plan.compiler.profile_ops.values(env)
        fired: list[str] = []
        with self._lock:
            sid = str(next(self._sids))
            child_hits = []
            if child_facts:
                assert plan.child_ruleset is not None
                for rule, index in self.rulesets[plan.child_ruleset].fire_with_index(sid, child_facts):
                    stage, qkey, verdict = markers[rule]
                    if stage == "child":
                        child_hits.append((qkey, verdict, index))
            quantifier_values = self._quantifiers(env, child_hits)
            for partition in plan.partitions:
                fact = {k: v for k, v in profile_values.items() if k in partition.operand_keys}
                fact.update(quantifier_values)
                fact["kind"] = "profile"
                fired += self.rulesets[partition.ruleset].fire(sid, [fact])
        decided: dict[str, bool | None] = {}
        for rule in fired:
            stage, name, verdict = markers[rule]
            if stage != "profile":
                continue
            if decided.get(name, verdict) != verdict:
                raise DurableError(f"{name}: both met and unmet rules fired")
            decided[name] = verdict
        return decided

    def _quantifiers(self, env: Env, child_hits: list[tuple[str, bool, int]]) -> dict[str, bool]:
        quantifiers = self.plan.compiler.quantifiers
        if not quantifiers or env.children is None:
            return {}
        n = len(env.children)
        met: dict[str, set[int]] = {}
        unmet: dict[str, set[int]] = {}
        for qkey, verdict, index in child_hits:
            (met if verdict else unmet).setdefault(qkey, set()).add(index)
        out: dict[str, bool] = {}
        for qkey in quantifiers.values():
            if met.get(qkey):
                out[qkey] = True
            elif len(unmet.get(qkey, ())) == n:
                out[qkey] = False
        return out


__all__ = ["CompileError", "DurableError", "DurableRunner", "compile_catalogue", "compile_services"]
