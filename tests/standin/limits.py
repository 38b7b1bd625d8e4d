"""Discord's documented limits, checked on every payload the bot sends.

Each check returns `Problem`s instead of raising, so the server can both answer
400 the way Discord does and record what was wrong for the test to assert on.
The mention rule is ours, not Discord's: Discord accepts a message that pings
@everyone; the stand-in flags any send whose allowed_mentions would let a ping through.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CONTENT = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELDS = 25
EMBED_FIELD_NAME = 256
EMBED_FIELD_VALUE = 1024
EMBED_FOOTER = 2048
EMBED_AUTHOR = 256
EMBED_TOTAL = 6000  # summed over every embed of one message
ACTION_ROWS = 5
BUTTONS_PER_ROW = 5
CUSTOM_ID = 100
BUTTON_LABEL = 80
SELECT_OPTIONS = 25
SELECT_OPTION_TEXT = 100
SELECT_PLACEHOLDER = 150
V2_COMPONENTS = 40
V2_TEXT = 4000
MODAL_TITLE = 45
MODAL_ROWS = 5
TEXT_INPUT_LABEL = 45
TEXT_INPUT_VALUE = 4000
TEXT_INPUT_PLACEHOLDER = 100
LABEL_DESCRIPTION = 100
AUTOCOMPLETE_CHOICES = 25
CHOICE_TEXT = 100
COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")
COMMAND_DESCRIPTION = 100
COMMAND_OPTIONS = 25
ALLOWED_MENTIONS_IDS = 100
# Discord's locales (https://discord.com/developers/docs/reference#locales): the keys of *_localizations.
LOCALES = frozenset(
    "id da de en-GB en-US es-ES es-419 fr hr it lt hu nl no pl pt-BR ro fi sv-SE vi tr cs el bg ru uk hi th "
    "zh-CN ja zh-TW ko".split()
)
INTEGRATION_TYPES = frozenset({0, 1})  # installed to a guild, to a user
CONTEXTS = frozenset({0, 1, 2})  # a guild, the bot's DM, other DMs and group DMs

FLAG_EPHEMERAL = 1 << 6
FLAG_COMPONENTS_V2 = 1 << 15
FLAG_LOADING = 1 << 7

BUTTON, SELECT, TEXT_INPUT, LABEL, TEXT_DISPLAY = 2, 3, 4, 18, 10
SELECT_TYPES = {3, 5, 6, 7, 8}
LINK_BUTTON, PREMIUM_BUTTON = 5, 6


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a payload: where (a dotted path like `embeds.0.title`) and what."""

    path: str
    message: str
    code: str = "BASE_TYPE_BAD_LENGTH"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _length(path: str, value: Any, high: int, low: int = 0) -> Iterator[Problem]:
    if value is None:
        if low:
            yield Problem(path, "This field is required", "BASE_TYPE_REQUIRED")
        return
    if not isinstance(value, str):
        yield Problem(path, f"must be a string, got {type(value).__name__}", "BASE_TYPE_STRING")
    elif not low <= len(value) <= high:
        yield Problem(path, f"Must be between {low} and {high} in length (got {len(value)}).")


def check_message(payload: Mapping[str, Any], *, editing: bool = False) -> list[Problem]:
    """Problems Discord would answer 400 for in a message create or edit body."""
    problems: list[Problem] = []
    flags = int(payload.get("flags") or 0)
    content = payload.get("content")
    embeds = payload.get("embeds") or []
    components = payload.get("components") or []
    problems += _length("content", content, CONTENT)
    if flags & FLAG_COMPONENTS_V2:
        if content or embeds:
            problems.append(Problem("content", "content and embeds cannot be used with IS_COMPONENTS_V2"))
        problems += _check_v2(components)
    else:
        problems += _check_embeds(embeds)
        problems += _check_action_rows("components", components)
    problems += _check_allowed_mentions(payload.get("allowed_mentions"))
    has_body = content or embeds or components or payload.get("attachments") or payload.get("sticker_ids")
    if not editing and not has_body and not payload.get("poll"):
        problems.append(Problem("content", "Cannot send an empty message", "50006"))
    return problems


def _check_embeds(embeds: Sequence[Mapping[str, Any]]) -> Iterator[Problem]:
    if len(embeds) > EMBEDS_PER_MESSAGE:
        yield Problem("embeds", f"Must be {EMBEDS_PER_MESSAGE} or fewer in length (got {len(embeds)}).")
    total = 0
    for i, embed in enumerate(embeds):
        at = f"embeds.{i}"
        title, description = embed.get("title"), embed.get("description")
        footer, author = (embed.get("footer") or {}).get("text"), (embed.get("author") or {}).get("name")
        yield from _length(f"{at}.title", title, EMBED_TITLE)
        yield from _length(f"{at}.description", description, EMBED_DESCRIPTION)
        yield from _length(f"{at}.footer.text", footer, EMBED_FOOTER)
        yield from _length(f"{at}.author.name", author, EMBED_AUTHOR)
        fields = embed.get("fields") or []
        if len(fields) > EMBED_FIELDS:
            yield Problem(f"{at}.fields", f"Must be {EMBED_FIELDS} or fewer in length (got {len(fields)}).")
        for j, field in enumerate(fields):
            yield from _length(f"{at}.fields.{j}.name", field.get("name"), EMBED_FIELD_NAME, 1)
            yield from _length(f"{at}.fields.{j}.value", field.get("value"), EMBED_FIELD_VALUE, 1)
            total += len(str(field.get("name") or "")) + len(str(field.get("value") or ""))
        total += sum(len(str(part or "")) for part in (title, description, footer, author))
    if total > EMBED_TOTAL:
        yield Problem("embeds", f"Embed size exceeds maximum size of {EMBED_TOTAL} (got {total}).")


def _check_action_rows(path: str, rows: Sequence[Mapping[str, Any]]) -> Iterator[Problem]:
    if len(rows) > ACTION_ROWS:
        yield Problem(path, f"Must be {ACTION_ROWS} or fewer in length (got {len(rows)}).")
    seen: set[str] = set()
    for i, row in enumerate(rows):
        at = f"{path}.{i}"
        if row.get("type") != 1:
            yield Problem(f"{at}.type", "top-level components must be action rows", "COMPONENT_LAYOUT_WIDTH_EXCEEDED")
            continue
        children = row.get("components") or []
        selects = [c for c in children if c.get("type") in SELECT_TYPES]
        if not children or len(children) > BUTTONS_PER_ROW or (selects and len(children) > 1):
            yield Problem(f"{at}.components", "an action row holds 1-5 buttons or one select menu")
        for j, child in enumerate(children):
            yield from _check_component(f"{at}.components.{j}", child, seen)


def _check_component(at: str, c: Mapping[str, Any], seen: set[str]) -> Iterator[Problem]:
    kind = c.get("type")
    if kind == BUTTON:
        style = c.get("style")
        yield from _length(f"{at}.label", c.get("label"), BUTTON_LABEL)
        if style == LINK_BUTTON:
            if not c.get("url") or c.get("custom_id"):
                yield Problem(at, "a link button needs a url and no custom_id")
            return
        if style == PREMIUM_BUTTON:
            return
        if not c.get("label") and not c.get("emoji"):
            yield Problem(f"{at}.label", "a button needs a label or an emoji", "BASE_TYPE_REQUIRED")
    elif kind in SELECT_TYPES:
        yield from _length(f"{at}.placeholder", c.get("placeholder"), SELECT_PLACEHOLDER)
        options = c.get("options") or []
        if kind == SELECT and not 1 <= len(options) <= SELECT_OPTIONS:
            yield Problem(f"{at}.options", f"Must be between 1 and {SELECT_OPTIONS} in length (got {len(options)}).")
        for k, option in enumerate(options):
            for key in ("label", "value"):
                yield from _length(f"{at}.options.{k}.{key}", option.get(key), SELECT_OPTION_TEXT, 1)
            yield from _length(f"{at}.options.{k}.description", option.get("description"), SELECT_OPTION_TEXT)
        for key in ("min_values", "max_values"):
            if not 0 <= int(c.get(key, 1)) <= SELECT_OPTIONS:
                yield Problem(f"{at}.{key}", f"must be between 0 and {SELECT_OPTIONS}")
    elif kind == TEXT_INPUT:
        return  # only valid in modals, checked by check_modal
    else:
        yield Problem(f"{at}.type", f"unknown component type {kind!r}", "COMPONENT_TYPE_INVALID")
        return
    custom_id = c.get("custom_id")
    yield from _length(f"{at}.custom_id", custom_id, CUSTOM_ID, 1)
    if custom_id in seen:
        yield Problem(f"{at}.custom_id", f"custom_id {custom_id!r} is used twice", "COMPONENT_CUSTOM_ID_DUPLICATED")
    seen.add(str(custom_id))


def _check_v2(components: Sequence[Mapping[str, Any]]) -> Iterator[Problem]:
    count, text = 0, 0
    stack = list(components)
    while stack:
        c = stack.pop()
        count += 1
        if c.get("type") == TEXT_DISPLAY:
            text += len(str(c.get("content") or ""))
        stack.extend(c.get("components") or [])
        stack.extend(x for x in (c.get("accessory"), c.get("component")) if x)
    if count > V2_COMPONENTS:
        yield Problem("components", f"at most {V2_COMPONENTS} components in a message (got {count})")
    if text > V2_TEXT:
        yield Problem("components", f"text displays total at most {V2_TEXT} characters (got {text})")


def _check_allowed_mentions(am: Any) -> Iterator[Problem]:
    if am is None:
        return
    parse = am.get("parse") or []
    for key in ("users", "roles"):
        if key in parse and am.get(key):
            yield Problem(f"allowed_mentions.{key}", f'"{key}" cannot be in parse and listed at once')
        if len(am.get(key) or []) > ALLOWED_MENTIONS_IDS:
            yield Problem(f"allowed_mentions.{key}", f"at most {ALLOWED_MENTIONS_IDS} ids")
    if bad := set(parse) - {"users", "roles", "everyone"}:
        yield Problem("allowed_mentions.parse", f"unknown values {sorted(bad)}")


def allowed_pings(payload: Mapping[str, Any]) -> list[str]:
    """What this message body would let ping: empty means nobody can be notified by it.

    Without `allowed_mentions` Discord parses every mention in the content and pings the author
    of a replied-to message; with it, only what it lists (replied_user defaults to false).
    """
    is_reply = bool(payload.get("message_reference"))
    if not payload.get("content") and not is_reply:
        return []  # only content and replies can ping; embeds never do
    am = payload.get("allowed_mentions")
    if am is None:
        return ["everyone", "users", "roles", *(["replied_user"] if is_reply else [])]
    allowed = list(am.get("parse") or [])
    allowed += [f"user:{u}" for u in am.get("users") or []]
    allowed += [f"role:{r}" for r in am.get("roles") or []]
    if is_reply and am.get("replied_user"):
        allowed.append("replied_user")
    return allowed


def check_modal(modal: Mapping[str, Any]) -> list[Problem]:
    """Problems in an interaction callback of type 9 (MODAL)."""
    problems = list(_length("data.title", modal.get("title"), MODAL_TITLE, 1))
    problems += _length("data.custom_id", modal.get("custom_id"), CUSTOM_ID, 1)
    rows = modal.get("components") or []
    if not 1 <= len(rows) <= MODAL_ROWS:
        problems.append(Problem("data.components", f"Must be between 1 and {MODAL_ROWS} in length (got {len(rows)})."))
    for i, row in enumerate(rows):
        at = f"data.components.{i}"
        if row.get("type") == LABEL:
            problems += _length(f"{at}.label", row.get("label"), TEXT_INPUT_LABEL, 1)
            problems += _length(f"{at}.description", row.get("description"), LABEL_DESCRIPTION)
            inner = [row.get("component") or {}]
        elif row.get("type") == 1:
            inner = row.get("components") or []
            if len(inner) != 1:
                problems.append(Problem(f"{at}.components", "a modal row holds exactly one input"))
        else:
            problems.append(Problem(f"{at}.type", "a modal holds labels or action rows", "COMPONENT_TYPE_INVALID"))
            continue
        for c in inner:
            problems += _length(f"{at}.custom_id", c.get("custom_id"), CUSTOM_ID, 1)
            if c.get("type") == TEXT_INPUT:
                problems += _length(f"{at}.label", c.get("label"), TEXT_INPUT_LABEL)
                problems += _length(f"{at}.value", c.get("value"), TEXT_INPUT_VALUE)
                problems += _length(f"{at}.placeholder", c.get("placeholder"), TEXT_INPUT_PLACEHOLDER)
                low, high = c.get("min_length", 0), c.get("max_length", TEXT_INPUT_VALUE)
                if not 0 <= low <= high <= TEXT_INPUT_VALUE or high < 1:
                    problems.append(Problem(f"{at}.max_length", "lengths must satisfy 0 <= min <= max <= 4000"))
    return problems


def check_choices(choices: Any) -> list[Problem]:
    """Problems in an autocomplete result (callback type 8)."""
    if not isinstance(choices, list):
        return [Problem("data.choices", "choices must be a list", "BASE_TYPE_REQUIRED")]
    problems: list[Problem] = []
    if len(choices) > AUTOCOMPLETE_CHOICES:
        problems.append(
            Problem("data.choices", f"Must be {AUTOCOMPLETE_CHOICES} or fewer in length (got {len(choices)}).")
        )
    for i, choice in enumerate(choices):
        problems += _length(f"data.choices.{i}.name", choice.get("name"), CHOICE_TEXT, 1)
        if isinstance(choice.get("value"), str):
            problems += _length(f"data.choices.{i}.value", choice.get("value"), CHOICE_TEXT)
    return problems


def check_commands(commands: Any) -> list[Problem]:
    """Problems in a bulk overwrite of application commands."""
    if not isinstance(commands, list):
        return [Problem("", "expected a list of commands", "BASE_TYPE_REQUIRED")]
    problems: list[Problem] = []
    names: set[tuple[int, str]] = set()
    for i, command in enumerate(commands):
        kind = command.get("type", 1)
        key = (kind, command.get("name"))
        if key in names:
            problems.append(
                Problem(f"{i}.name", f"command {key[1]!r} is defined twice", "APPLICATION_COMMANDS_DUPLICATE_NAME")
            )
        names.add(key)
        if kind == 1:
            problems += _check_command_node(str(i), command, depth=0)
        else:
            problems += _length(f"{i}.name", command.get("name"), 32, 1)
            problems += [
                p
                for locale, name in (command.get("name_localizations") or {}).items()
                for p in _length(f"{i}.name_localizations.{locale}", name, 32, 1)
            ]
            problems += _check_locales(str(i), command)
        for key, valid in (("integration_types", INTEGRATION_TYPES), ("contexts", CONTEXTS)):
            values = command.get(key)
            if values is not None and (not values or set(values) - valid):
                problems.append(Problem(f"{i}.{key}", f"must be a non-empty list of {sorted(valid)}, got {values!r}"))
    return problems


def _check_locales(at: str, node: Mapping[str, Any]) -> list[Problem]:
    """The keys of name_localizations and description_localizations must be locales Discord knows."""
    return [
        Problem(f"{at}.{key}.{locale}", f"{locale!r} is not a Discord locale", "LOCALE_INVALID")
        for key in ("name_localizations", "description_localizations")
        for locale in node.get(key) or {}
        if locale not in LOCALES
    ]


def _check_name_and_description(at: str, node: Mapping[str, Any], what: str) -> list[Problem]:
    """Commands and options alike: a valid lower-case name and a description of the right length,
    and the same for every translation of them."""
    names = [("name", node.get("name"))]
    names += [(f"name_localizations.{k}", v) for k, v in (node.get("name_localizations") or {}).items()]
    problems: list[Problem] = []
    for path, name in names:
        if not isinstance(name, str) or not COMMAND_NAME.match(name) or name != name.lower():
            problems.append(
                Problem(
                    f"{at}.{path}", f"{name!r} is not a valid lowercase {what} name", "APPLICATION_COMMAND_INVALID_NAME"
                )
            )
    problems += _length(f"{at}.description", node.get("description"), COMMAND_DESCRIPTION, 1)
    for locale, text in (node.get("description_localizations") or {}).items():
        problems += _length(f"{at}.description_localizations.{locale}", text, COMMAND_DESCRIPTION, 1)
    return problems


def _check_command_node(at: str, node: Mapping[str, Any], depth: int) -> list[Problem]:
    problems = _check_name_and_description(at, node, "command") + _check_locales(at, node)
    options = node.get("options") or []
    if len(options) > COMMAND_OPTIONS:
        problems.append(Problem(f"{at}.options", f"Must be {COMMAND_OPTIONS} or fewer in length (got {len(options)})."))
    seen_optional = False
    for j, option in enumerate(options):
        where = f"{at}.options.{j}"
        if option.get("type") in (1, 2):
            if depth >= 2 or (option["type"] == 2 and depth >= 1):
                problems.append(
                    Problem(where, "subcommands nest at most group → subcommand", "APPLICATION_COMMAND_TOO_DEEP")
                )
            problems += _check_command_node(where, option, depth + 1)
            continue
        problems += _check_command_node_leaf(where, option)
        if option.get("required"):
            if seen_optional:
                problems.append(
                    Problem(
                        where,
                        "required options must come before optional ones",
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    )
                )
        else:
            seen_optional = True
    return problems


def _check_command_node_leaf(at: str, option: Mapping[str, Any]) -> list[Problem]:
    problems = _check_name_and_description(at, option, "option") + _check_locales(at, option)
    choices = option.get("choices") or []
    if choices and option.get("autocomplete"):
        problems.append(Problem(f"{at}.autocomplete", "autocomplete cannot be combined with choices"))
    problems += [Problem(f"{at}.{p.path}", p.message, p.code) for p in check_choices(choices)]
    return problems


def error_body(problems: Sequence[Problem]) -> dict[str, Any]:
    """Discord's 400 body: `errors` nests by path down to `{"_errors": [{code, message}]}`."""
    errors: dict[str, Any] = {}
    for problem in problems:
        node = errors
        for part in [p for p in problem.path.split(".") if p]:
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": problem.code, "message": problem.message})
    return {"code": 50035, "message": "Invalid Form Body", "errors": errors}
