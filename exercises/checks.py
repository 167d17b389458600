"""System checks of the exercise contract, run at start-up.

``manage.py check``, ``runserver`` and ``migrate`` (which every deployment
runs first) refuse to go on while an exercise is incomplete:

- every registered flow has a valid kind, a title and a summary, and lists steps;
- no two flows claim one kind, and none claims an identifier of the pages
  done in your own time (their entries' prompt keys and links use them);
- each flow's content file exists and has the keys its steps read, and an
  example run of it (default settings) can be built;
- every step kind a flow uses has its handlers and its template;
- every kind sessions are stored under, or the content links to, has its flow;
- each flow has a picture of its own (static/img/ex/), or the pages use the generic one (a warning).

The last one also looks at the database (``migrate`` and
``check --database default`` run it): a session of a kind whose flow was
removed could no longer be opened.
"""

from __future__ import annotations

import re
import tomllib

from django import forms
from django.contrib.staticfiles import finders
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError, connections, transaction
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import get_template

from exercises.content import CONTENT_DIR, load
from exercises.engine import REGISTERED, REGISTRY, STEP_KINDS, Flow, Step, flow_name
from exercises.models import Session

KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]*\Z")  # a URL slug, an id, a prompt-key prefix

# The kinds sessions were stored under before the registry (migration 0001's
# choices, less the pages done in your own time, which never had sessions):
# databases out there hold rows of each, so each must keep its flow.
STORED_KINDS = (
    "eye_gazing",
    "temperature",
    "love_maps",
    "ladder",
    "weekly_checkin",
    "hug",
    "stress_talk",
)


# Where the pictures of exercises are, one per kind, if the pages show them.
PICTURES = "img/ex"


def journal_identifiers() -> set[str]:
    """Names the pages done in your own time already use, so no flow may take them.

    Their entries' prompt keys start with these ("story:…", "appreciation:…"),
    the self-check links to them, and their content files are named after them.
    """
    from exercises import daily, journal

    prefixes = (
        daily.PREFIX,
        journal.APPRECIATION,
        journal.QUIZ_RESULT,
        journal.SELF_CHECK,
        journal.STORY,
    )
    return (
        {prefix.partition(":")[0] for prefix in prefixes}
        | set(journal.EXERCISE_PAGES)
        | {
            "guides"  # content/guides.toml: the guides of those pages
        }
    )


def _for_us(app_configs) -> bool:
    return app_configs is None or any(config.label == "exercises" for config in app_configs)


@register("exercises")
def check_exercises(app_configs=None, **kwargs) -> list[CheckMessage]:
    if not _for_us(app_configs):
        return []
    errors = check_step_kinds()
    errors += check_claims()
    for flow_class in REGISTERED:
        errors += check_flow(flow_class)
    errors += check_known_kinds()
    return errors


@register(Tags.database)
def check_stored_kinds(app_configs=None, databases=None, **kwargs) -> list[CheckMessage]:
    """Sessions stored under a kind that no flow runs (E010)."""
    if not _for_us(app_configs):
        return []
    errors = []
    for alias in databases or ():
        if alias not in connections:
            continue
        try:
            with transaction.atomic(using=alias):
                orphans = sorted(
                    Session.objects.using(alias)
                    .exclude(kind__in=list(REGISTRY))
                    .order_by()
                    .values_list("kind", flat=True)
                    .distinct()
                )
        except DatabaseError:
            continue  # not migrated yet: nothing is stored
        errors += [
            Error(
                f"Sessions in the database '{alias}' are of the kind '{kind}', "
                "which no registered flow runs: they could no longer be opened.",
                hint="Restore its module in exercises/kinds/ (a kind is for ever), "
                "or delete those sessions on purpose.",
                obj=f"exercises.Session(kind={kind!r})",
                id="exercises.E010",
            )
            for kind in orphans
        ]
    return errors


# --- step kinds ------------------------------------------------------------------


def check_step_kinds() -> list[CheckMessage]:
    errors = []
    words_fields: dict[str, str] = {}
    for name, kind in STEP_KINDS.items():
        where = f"step kind '{name}'"
        if not kind.actions or not all(callable(h) for h in kind.actions.values()):
            errors.append(
                Error(
                    f"The {where} takes no actions, or one of its handlers can't be called.",
                    obj=where,
                    id="exercises.E007",
                )
            )
        try:
            get_template(kind.template)
        except TemplateDoesNotExist:
            errors.append(
                Error(
                    f"The {where} names the template '{kind.template}', which doesn't exist.",
                    hint="Add it under templates/exercises/steps/.",
                    obj=where,
                    id="exercises.E008",
                )
            )
        except TemplateSyntaxError as problem:
            errors.append(
                Error(
                    f"The template '{kind.template}' of the {where} doesn't load: {problem}",
                    obj=where,
                    id="exercises.E008",
                )
            )
        for action, field in kind.words.items():
            # The engine reads an overtaken action's words before it knows the step.
            if words_fields.setdefault(action, field) != field:
                errors.append(
                    Error(
                        f"The action '{action}' carries words in '{words_fields[action]}' on "
                        f"one step kind and in '{field}' on the {where}.",
                        hint="One action, one field: rename the action or the field.",
                        obj=where,
                        id="exercises.E007",
                    )
                )
    return errors


# --- flows -----------------------------------------------------------------------


def check_claims() -> list[CheckMessage]:
    claims: dict[str, list[str]] = {}
    for flow_class in REGISTERED:
        kind = getattr(flow_class, "kind", None)
        if isinstance(kind, str):
            claims.setdefault(kind, []).append(flow_name(flow_class))
    return [
        Error(
            f"{len(names)} flows claim the kind '{kind}': {', '.join(names)}.",
            hint=f"Only the first, {names[0]}, runs. Give each exercise a kind of its own.",
            obj=names[-1],
            id="exercises.E002",
        )
        for kind, names in claims.items()
        if len(names) > 1
    ]


def check_flow(flow_class: type[Flow]) -> list[CheckMessage]:
    name = flow_name(flow_class)

    def error(message: str, id: str, hint: str | None = None) -> Error:
        return Error(message, hint=hint, obj=name, id=f"exercises.{id}")

    errors = _attribute_errors(flow_class, error)
    kind = getattr(flow_class, "kind", None)
    if errors and not (isinstance(kind, str) and KIND_PATTERN.match(kind)):
        return errors  # the rest is keyed by the kind
    reserved = journal_identifiers()
    if kind in reserved or flow_class.content_file() in reserved:
        errors.append(
            error(
                f"The flow's kind or content file '{kind}' is a name the pages done in your "
                "own time use (in prompt keys, links or content files).",
                "E003",
                hint=f"Choose another kind. Taken: {', '.join(sorted(reserved))}.",
            )
        )
    if not finders.find(f"{PICTURES}/{kind}.svg"):
        errors.append(
            Warning(
                f"The flow has no picture of its own, static/{PICTURES}/{kind}.svg: the "
                "pages show the generic one.",
                hint="Add a square SVG (decorative: the pages give it no text).",
                obj=name,
                id="exercises.W011",
            )
        )
    content_errors = _content_errors(flow_class, error)
    errors += content_errors
    if not content_errors and flow_class.steps is not Flow.steps:
        errors += _example_errors(flow_class, error)
    return errors


def _attribute_errors(flow_class: type[Flow], error) -> list[CheckMessage]:
    errors = []
    kind = getattr(flow_class, "kind", None)
    max_length = Session._meta.get_field("kind").max_length
    if not isinstance(kind, str) or not KIND_PATTERN.match(kind) or len(kind) > max_length:
        errors.append(
            error(
                f"The flow's kind is {kind!r}: it needs one of lowercase letters, digits "
                f"and underscores, starting with a letter, at most {max_length} long.",
                "E001",
                hint="It is stored on sessions and in prompt keys: choose it once.",
            )
        )
    for attribute in ("title", "summary"):
        value = getattr(flow_class, attribute, None)
        if not isinstance(value, str) or not value.strip():
            errors.append(error(f"The flow has no {attribute}.", "E001"))
    if not isinstance(getattr(flow_class, "minutes", ""), str):
        errors.append(error("The flow's minutes must be text, like '10–15 min'.", "E001"))
    if not isinstance(getattr(flow_class, "one_screen", True), bool):
        errors.append(error("The flow's one_screen must be True or False.", "E001"))
    settings_form = getattr(flow_class, "settings_form", None)
    if settings_form is not None and not (
        isinstance(settings_form, type) and issubclass(settings_form, forms.BaseForm)
    ):
        errors.append(error("The flow's settings_form must be a form class, or None.", "E001"))
    keys = getattr(flow_class, "content_keys", ())
    if not isinstance(keys, tuple) or not all(isinstance(key, str) for key in keys):
        errors.append(error("The flow's content_keys must be a tuple of key names.", "E001"))
    if flow_class.steps is Flow.steps:
        errors.append(error("The flow lists no steps: it needs a steps() method.", "E001"))
    return errors


def _content_errors(flow_class: type[Flow], error) -> list[CheckMessage]:
    path = CONTENT_DIR / f"{flow_class.content_file()}.toml"
    shown = f"exercises/content/{path.name}"
    if not path.is_file():
        return [
            error(
                f"The flow's content file {shown} doesn't exist.",
                "E004",
                hint="Its guide and questions live there, with stable keys.",
            )
        ]
    try:
        content = load(flow_class.content_file())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as problem:
        return [error(f"The content file {shown} doesn't read as TOML: {problem}", "E004")]
    return [
        error(
            f"The content file {shown} lacks '{key}', which the flow's steps read.",
            "E005",
            hint=where if where else None,
        )
        for key in flow_class.content_keys
        if (where := _missing(content, key.split("."))) is not None
    ]


def _missing(content, path: list[str]) -> str | None:
    """None if ``path`` is in ``content``; else where it's missing ("" at the top).

    A list on the way (an array of tables) needs the rest in every item.
    """
    head, rest = path[0], path[1:]
    if not isinstance(content, dict) or head not in content:
        return ""
    value = content[head]
    if not rest:
        return None
    items = value if isinstance(value, list) else [value]
    if not items:
        return f"'{head}' is empty."
    for number, item in enumerate(items, start=1):
        if _missing(item, rest) is not None:
            return f"Item {number} of '{head}' has no '{'.'.join(rest)}'."
    return None


def _example_errors(flow_class: type[Flow], error) -> list[CheckMessage]:
    """Build the steps of an example run, as a partner starting it would."""
    holder = REGISTRY.get(flow_class.kind)
    flow = holder if type(holder) is flow_class else flow_class()
    content = f"exercises/content/{flow_class.content_file()}.toml"
    try:
        steps = flow.steps(flow.example())
    except KeyError as missing:
        return [
            error(
                f"Building an example run failed: the key {missing} is missing.",
                "E005",
                hint=f"Is it missing from {content}? Then add it, and name it in content_keys.",
            )
        ]
    except Exception as problem:  # any failure is the flow's to report
        return [
            error(
                f"Building an example run failed: {type(problem).__name__}: {problem}",
                "E006",
                hint="If setup() reads the database, override example() (see Flow.example).",
            )
        ]
    if not steps or not all(isinstance(step, Step) for step in steps):
        return [error("An example run has no steps, or something that isn't a Step.", "E006")]
    errors = []
    seen: set[str] = set()
    for step in steps:
        if step.key in seen:
            errors.append(
                error(
                    f"Two steps share the key '{step.key}': their answers would be mixed up.",
                    "E006",
                )
            )
        seen.add(step.key)
        if step.kind not in STEP_KINDS:
            errors.append(
                error(
                    f"The step '{step.key}' is of the kind '{step.kind}', which has no "
                    f"handlers. Known: {', '.join(sorted(STEP_KINDS))}.",
                    "E007",
                    hint="Register it in exercises/steps.py with its template.",
                )
            )
    return errors


# --- kinds the code and the content refer to ------------------------------------


def check_known_kinds() -> list[CheckMessage]:
    from exercises import journal

    errors = [
        Error(
            f"Sessions are stored under the kind '{kind}', but no flow runs it.",
            hint="Keep its module in exercises/kinds/: stored sessions open through it.",
            obj=f"exercises.Session(kind={kind!r})",
            id="exercises.E009",
        )
        for kind in STORED_KINDS
        if kind not in REGISTRY
    ]
    for step in load("self_check").get("step", []):
        target, _, key = step.get("link", "").partition(":")
        if target == "exercise" and key not in journal.EXERCISE_PAGES and key not in REGISTRY:
            errors.append(
                Error(
                    f"The self-check links to the exercise '{key}', which no flow runs "
                    "and no page shows.",
                    hint="Fix the link in exercises/content/self_check.toml, or add the flow.",
                    obj="exercises/content/self_check.toml",
                    id="exercises.E009",
                )
            )
    return errors
