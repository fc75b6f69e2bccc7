"""Field types: coercion of good and bad input, checks, database round trips, JSON and display."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from metamodel import FIELD_TYPES, FieldValueError, field_type
from metamodel.model import FieldDef

UTC = dt.UTC

PICK_VALUES = ({"value": "new", "label": {"en": "New", "zh": "新建"}},
               {"value": "won", "label": {"en": "Won", "zh": "赢单"}},
               {"value": "lost", "label": "Lost"})


def make(type_name: str, **options) -> FieldDef:
    return FieldDef(name="f", type=type_name, label={"en": "F"}, options=options)


ALL_TYPES = ("text textarea email phone url integer number currency percent boolean date datetime "
             "picklist multipicklist lookup master_detail user autonumber formula rollup file").split()


def test_registry_holds_every_documented_type():
    assert set(FIELD_TYPES) == set(ALL_TYPES)


def test_unknown_type_name_raises_key_error_with_suggestion():
    with pytest.raises(KeyError, match="did you mean 'currency'"):
        field_type("currancy")


GOOD = [
    ("text", {}, "  Acme  ", "Acme"),
    ("text", {}, 12345, "12345"),
    ("textarea", {}, "line 1\n  line 2", "line 1\n  line 2"),
    ("email", {}, "Bob@Example.COM", "Bob@example.com"),
    ("phone", {}, "+86 (21) 5555-1234", "+86 (21) 5555-1234"),
    ("url", {}, "www.example.com", "https://www.example.com"),
    ("url", {}, "http://example.com/a?b=1", "http://example.com/a?b=1"),
    ("integer", {}, "1,234", 1234),
    ("integer", {}, 7.0, 7),
    ("number", {"precision": 3}, "1.23456", Decimal("1.235")),
    ("number", {}, 0.1, Decimal("0.10")),
    ("currency", {}, "¥1,234.5", Decimal("1234.50")),
    ("currency", {}, "CNY 1,234.50", Decimal("1234.50")),
    ("percent", {}, "25%", Decimal("25.00")),
    ("boolean", {}, "yes", True),
    ("boolean", {}, "否", False),
    ("boolean", {}, 1, True),
    ("date", {}, "2024-03-05", dt.date(2024, 3, 5)),
    ("date", {}, "2024年3月5日", dt.date(2024, 3, 5)),
    ("datetime", {}, "2024-03-05T10:00:00+08:00", dt.datetime(2024, 3, 5, 2, 0, tzinfo=UTC)),
    ("datetime", {}, dt.datetime(2024, 3, 5, 2, 0), dt.datetime(2024, 3, 5, 2, 0, tzinfo=UTC)),
    ("picklist", {"values": PICK_VALUES}, "won", "won"),
    ("picklist", {"values": PICK_VALUES}, "赢单", "won"),
    ("multipicklist", {"values": PICK_VALUES}, "lost;new", ["new", "lost"]),
    ("multipicklist", {"values": PICK_VALUES}, ["won", "won"], ["won"]),
    ("lookup", {"target": "account"}, "42", 42),
    ("master_detail", {"target": "account"}, {"id": 7}, 7),
    ("user", {}, 3, 3),
    ("autonumber", {"format": "QT-{0000}"}, "QT-0001", "QT-0001"),
    ("file", {}, {"key": "k1", "name": "a.pdf", "size": 10, "content_type": "application/pdf"},
     {"key": "k1", "name": "a.pdf", "size": 10, "content_type": "application/pdf"}),
]


@pytest.mark.parametrize(("type_name", "options", "raw", "expected"), GOOD,
                         ids=[f"{g[0]}-{g[2]!r}" for g in GOOD])
def test_coerce_accepts_good_input_as_canonical_value(type_name, options, raw, expected):
    assert field_type(type_name).coerce(make(type_name, **options), raw) == expected


BAD = [
    ("text", {}, ["a"], "must be text"),
    ("email", {}, "bob@", "not a valid email address"),
    ("phone", {}, "call me", "not a valid phone number"),
    ("phone", {}, "123", "not a valid phone number"),
    ("url", {}, "ftp://example.com", "not a valid URL"),
    ("integer", {}, "1.5", "whole number"),
    ("integer", {}, True, "must be a number"),
    ("number", {}, "abc", "must be a number"),
    ("number", {}, "NaN", "must be a number"),
    ("currency", {}, "1e30", "too large"),
    ("boolean", {}, "maybe", "yes or no"),
    ("date", {}, "05/03/2024", "YYYY-MM-DD"),
    ("datetime", {}, "yesterday", "ISO 8601"),
    ("multipicklist", {"values": PICK_VALUES}, 5, "list of values"),
    ("lookup", {"target": "account"}, "abc", "id of a record"),
    ("user", {}, 0, "id of a record"),
    ("file", {}, {"name": "a.pdf"}, "uploaded file"),
    ("formula", {"expression": "1", "returns": "number"}, 1, "is computed"),
    ("rollup", {"child": "c", "via": "p", "function": "COUNT"}, 1, "is computed"),
]


@pytest.mark.parametrize(("type_name", "options", "raw", "message"), BAD,
                         ids=[f"{b[0]}-{b[2]!r}" for b in BAD])
def test_coerce_rejects_bad_input_with_a_message(type_name, options, raw, message):
    with pytest.raises(FieldValueError) as caught:
        field_type(type_name).coerce(make(type_name, **options), raw)
    assert message in caught.value.message


TYPED_TEXT = {"text": "Acme{}", "textarea": "Acme{}", "email": "bob{}@example.com",
              "phone": "+86 21 5555{}1234", "url": "https://example.com/{}"}


@pytest.mark.parametrize("type_name", sorted(TYPED_TEXT))
def test_text_types_refuse_a_nul_naming_it(type_name):
    with pytest.raises(FieldValueError) as caught:
        field_type(type_name).coerce(make(type_name), TYPED_TEXT[type_name].format("\x00"))
    assert caught.value.message == "contains a control character (U+0000)"


@pytest.mark.parametrize("character", ["\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f"])
def test_text_refuses_other_control_characters_naming_them(character):
    with pytest.raises(FieldValueError) as caught:
        field_type("text").coerce(make("text"), f"Ac{character}me")
    assert caught.value.message == f"contains a control character (U+{ord(character):04X})"


def test_text_refuses_a_control_character_that_stripping_would_hide():
    with pytest.raises(FieldValueError, match="U\\+001F"):
        field_type("text").coerce(make("text"), "Acme\x1f")


def test_textarea_keeps_tabs_and_line_breaks_but_refuses_a_vertical_tab():
    kind, f = field_type("textarea"), make("textarea")
    assert kind.coerce(f, "line 1\r\n\tline 2\n") == "line 1\r\n\tline 2\n"
    with pytest.raises(FieldValueError, match="U\\+000B"):
        kind.coerce(f, "line 1\vline 2")


def test_single_line_text_refuses_a_line_break_inside():
    with pytest.raises(FieldValueError) as caught:
        field_type("text").coerce(make("text"), "Acme\nLtd")
    assert caught.value.message == "must be on one line (it contains a line break)"


@pytest.mark.parametrize("raw", ["2147483648", 2**63, "99999999999999999999"])
@pytest.mark.parametrize("type_name", ["lookup", "master_detail", "user"])
def test_reference_refuses_an_id_beyond_the_id_column_naming_the_range(type_name, raw):
    with pytest.raises(FieldValueError) as caught:
        field_type(type_name).coerce(make(type_name, target="account"), raw)
    assert caught.value.message == "must be the id of a record (a whole number from 1 to 2,147,483,647)"


def test_reference_refuses_digits_that_are_not_ascii():
    with pytest.raises(FieldValueError, match="id of a record"):
        field_type("lookup").coerce(make("lookup", target="account"), "²")


@pytest.mark.parametrize("raw", ["9223372036854775808", "-9223372036854775809", "1e100000"])
def test_integer_refuses_a_value_beyond_64_bits_naming_the_range(raw):
    with pytest.raises(FieldValueError) as caught:
        field_type("integer").coerce(make("integer"), raw)
    assert "between -9,223,372,036,854,775,808 and 9,223,372,036,854,775,807" in caught.value.message


def test_integer_accepts_the_smallest_64_bit_value():
    assert field_type("integer").coerce(make("integer"), "-9223372036854775808") == -(2**63)


@pytest.mark.parametrize("type_name", [t for t in ALL_TYPES if t not in ("formula", "rollup", "boolean")])
@pytest.mark.parametrize("blank", [None, "", "   "])
def test_blank_input_coerces_to_none(type_name, blank):
    assert field_type(type_name).coerce(make(type_name, values=PICK_VALUES, target="x"), blank) is None


def test_blank_boolean_is_false():
    assert field_type("boolean").coerce(make("boolean"), "") is False


CHECKS = [
    ("text", {"max_length": 3}, "abcd", "at most 3 characters"),
    ("text", {"pattern": "[A-Z]{2}"}, "abc", "required format"),
    ("integer", {"min": 1}, 0, "at least 1"),
    ("currency", {"max": 100}, Decimal("100.01"), "at most CNY 100.00"),
    ("picklist", {"values": PICK_VALUES}, "maybe", "not one of the values: new, won, lost"),
    ("multipicklist", {"values": PICK_VALUES}, ["new", "maybe"], "'maybe' is not one of"),
    ("file", {"max_size": 5}, {"key": "k", "name": "a.pdf", "size": 10, "content_type": "x"}, "too large"),
    ("file", {"accept": [".png"]}, {"key": "k", "name": "a.pdf", "size": 1, "content_type": "x"}, ".png"),
]


@pytest.mark.parametrize(("type_name", "options", "value", "message"), CHECKS,
                         ids=[f"{c[0]}-{c[3]}" for c in CHECKS])
def test_check_value_reports_what_to_fix(type_name, options, value, message):
    problems = field_type(type_name).check_value(make(type_name, **options), value)
    assert any(message in p for p in problems), problems


def test_check_value_passes_a_valid_value():
    assert field_type("text").check_value(make("text", max_length=5), "abc") == []


ROUND_TRIPS = [
    ("text", {}, "Acme"),
    ("integer", {}, 12),
    ("currency", {}, Decimal("12.50")),
    ("boolean", {}, True),
    ("date", {}, dt.date(2024, 1, 31)),
    ("datetime", {}, dt.datetime(2024, 1, 31, 8, 30, tzinfo=UTC)),
    ("picklist", {"values": PICK_VALUES}, "won"),
    ("multipicklist", {"values": PICK_VALUES}, ["new", "won"]),
    ("lookup", {"target": "account"}, 5),
    ("file", {}, {"key": "k", "name": "a.pdf", "size": 1, "content_type": "application/pdf"}),
]


@pytest.mark.parametrize(("type_name", "options", "value"), ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_to_db_then_from_db_returns_the_value(type_name, options, value):
    ftype, f = field_type(type_name), make(type_name, **options)
    assert ftype.from_db(f, ftype.to_db(f, value)) == value


@pytest.mark.parametrize(("type_name", "options", "value"), ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_values_survive_a_real_sqlite_column(type_name, options, value):
    ftype, f = field_type(type_name), make(type_name, **options)
    table = sa.Table("t", sa.MetaData(), sa.Column("v", ftype.column_type(f)))
    engine = sa.create_engine("sqlite://")
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert().values(v=ftype.to_db(f, value)))
        stored = conn.execute(sa.select(table.c.v)).scalar_one()
    assert ftype.from_db(f, stored) == value


def test_multipicklist_is_stored_semicolon_joined():
    assert field_type("multipicklist").to_db(make("multipicklist", values=PICK_VALUES), ["new", "won"]) == "new;won"


def test_from_db_makes_naive_datetimes_utc():
    value = field_type("datetime").from_db(make("datetime"), dt.datetime(2024, 1, 1, 12, 0))
    assert value.tzinfo is UTC


def test_from_db_quantizes_floats_to_precision():
    assert field_type("number").from_db(make("number", precision=2), 0.1 + 0.2) == Decimal("0.30")


def test_to_json_gives_strings_for_decimals_and_dates():
    assert field_type("currency").to_json(make("currency"), Decimal("1.50")) == "1.50"
    assert field_type("date").to_json(make("date"), dt.date(2024, 2, 1)) == "2024-02-01"


DISPLAYS = [
    ("currency", {}, Decimal("1234.5"), "zh", "¥1,234.50"),
    ("currency", {}, Decimal("1234.5"), "en", "CNY 1,234.50"),
    ("currency", {"currency": "USD"}, Decimal("-3"), "en", "-$3.00"),
    ("percent", {}, Decimal("25.00"), "en", "25%"),
    ("percent", {}, Decimal("12.50"), "en", "12.5%"),
    ("boolean", {}, True, "en", "Yes"),
    ("boolean", {}, False, "zh", "否"),
    ("integer", {}, 1234567, "en", "1,234,567"),
    ("picklist", {"values": PICK_VALUES}, "won", "zh", "赢单"),
    ("picklist", {"values": PICK_VALUES}, "lost", "zh", "Lost"),
    ("multipicklist", {"values": PICK_VALUES}, ["new", "won"], "en", "New, Won"),
    ("date", {}, dt.date(2024, 3, 5), "en", "2024-03-05"),
    ("formula", {"returns": "percent"}, Decimal("50"), "en", "50%"),
]


@pytest.mark.parametrize(("type_name", "options", "value", "locale", "text"), DISPLAYS,
                         ids=[f"{d[0]}-{d[4]}" for d in DISPLAYS])
def test_display_shows_value_as_people_read_it(type_name, options, value, locale, text):
    assert field_type(type_name).display(make(type_name, **options), value, locale) == text


@pytest.mark.parametrize(("type_name", "cell", "expected"), [
    ("boolean", "是", True),
    ("boolean", "No", False),
    ("date", "2024/3/5", dt.date(2024, 3, 5)),
    ("percent", "12.5%", Decimal("12.50")),
    ("multipicklist", "new, won", ["new", "won"]),
])
def test_parse_csv_understands_spreadsheet_cells(type_name, cell, expected):
    assert field_type(type_name).parse_csv(make(type_name, values=PICK_VALUES), cell) == expected


@pytest.mark.parametrize(("type_name", "options", "expected"), [
    ("text", {"max_length": 80}, sa.String),
    ("textarea", {}, sa.Text),
    ("integer", {}, sa.BigInteger),
    ("currency", {"precision": 4}, sa.Numeric),
    ("datetime", {}, sa.DateTime),
    ("file", {}, sa.JSON),
    ("lookup", {"target": "account"}, sa.Integer),
])
def test_column_type_matches_the_storage_table(type_name, options, expected):
    assert isinstance(field_type(type_name).column_type(make(type_name, **options)), expected)


def test_text_column_length_is_max_length_or_255():
    assert field_type("text").column_type(make("text", max_length=80)).length == 80
    assert field_type("text").column_type(make("text")).length == 255


def test_computed_types_have_no_column():
    with pytest.raises(TypeError):
        field_type("formula").column_type(make("formula", expression="1", returns="number"))


@pytest.mark.parametrize(("type_name", "options", "expected"), [
    ("lookup", {"target": "account"}, ("account", "SET NULL")),
    ("lookup", {"target": "account", "on_delete": "restrict"}, ("account", "RESTRICT")),
    ("master_detail", {"target": "quote"}, ("quote", "CASCADE")),
    ("user", {}, ("fw_user", "SET NULL")),
    ("text", {}, None),
])
def test_foreign_key_names_target_table_and_on_delete(type_name, options, expected):
    assert field_type(type_name).foreign_key(make(type_name, **options)) == expected


def test_reference_and_autonumber_fields_are_always_indexed():
    indexed = {n for n, t in FIELD_TYPES.items() if t.always_indexed(make(n, target="x"))}
    assert indexed == {"lookup", "master_detail", "user", "autonumber"}


def test_formula_type_of_formula_is_its_declared_result():
    f = make("formula", expression="1", returns="currency")
    assert field_type("formula").formula_type_of(f) == "currency"


def test_autonumber_formats_date_parts_and_counter():
    f = make("autonumber", format="QT-{YYYY}-{0000}")
    assert field_type("autonumber").format_value(f, 42, dt.date(2024, 5, 1)) == "QT-2024-0042"


@pytest.mark.parametrize(("type_name", "options", "locale", "expected"), [
    ("currency", {"currency": "USD"}, "en", '"$"#,##0.00'),
    ("currency", {"currency": "CNY"}, "zh", '"¥"#,##0.00'),
    ("currency", {"currency": "CNY", "precision": 0}, "en", '"CNY "#,##0'),
    ("number", {"precision": 3}, "en", "#,##0.000"),
    ("percent", {"precision": 1}, "en", "0.0%"),
    ("formula", {"expression": "1", "returns": "percent", "precision": 0}, "en", "0%"),
])
def test_spreadsheet_format_follows_precision_and_currency(type_name, options, locale, expected):
    f = make(type_name, **options)
    assert field_type(type_name).spreadsheet_format(f, locale) == expected


def test_spreadsheet_value_of_a_percent_is_its_fraction():
    assert field_type("percent").spreadsheet_value(make("percent"), Decimal("12.50")) == Decimal("0.125")


def test_spreadsheet_value_of_text_and_choices_is_left_to_their_shown_text():
    assert field_type("text").spreadsheet_value(make("text"), "=1+1") is None
    assert field_type("picklist").spreadsheet_value(make("picklist", values=PICK_VALUES), "won") is None


def test_a_user_field_answers_the_access_it_grants_the_user_it_names():
    assert field_type("user").access_grant(make("user", grants="edit")) == "edit"
    assert field_type("user").access_grant(make("user")) is None
    assert field_type("lookup").access_grant(make("lookup", target="account")) is None
