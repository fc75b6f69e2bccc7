"""The read path: filters, search, sort with blanks last, keyset pages, counts, related records."""
from __future__ import annotations

import base64

import pytest
from engine_apps import ACCOUNT, QUOTE, entity_doc

from engine.data.query import describe_condition
from engine.errors import CursorError, ValidationError
from metamodel.model import Condition, SortKey


@pytest.fixture
def accounts(runtime, install):
    registry = install(ACCOUNT, QUOTE)
    runtime.records().bulk_create("account", [
        {"name": "Acme", "grade": "vip", "employees": 50, "revenue": "1000"},
        {"name": "Beta", "grade": "regular", "employees": 5, "revenue": "20"},
        {"name": "Gamma 100%", "grade": "vip", "employees": None, "revenue": "300"},
        {"name": "Delta", "grade": None, "employees": 12, "revenue": None},
        {"name": "epsilon", "grade": "regular", "employees": 50, "revenue": "7"},
    ])
    return registry


def names(page):
    return [r["name"] for r in page.rows]


def test_eq_filter_keeps_matching_rows(runtime, accounts):
    page = runtime.query().list("account", filters=[Condition("grade", "eq", "vip")], sort=[SortKey("name")])
    assert names(page) == ["Acme", "Gamma 100%"]


def test_between_filter_is_inclusive(runtime, accounts):
    page = runtime.query().list("account", filters=[Condition("employees", "between", [5, 12])],
                                sort=[SortKey("name")])
    assert names(page) == ["Beta", "Delta"]


def test_contains_matches_case_insensitively_and_literally(runtime, accounts):
    query = runtime.query()
    assert names(query.list("account", filters=[Condition("name", "contains", "ELTA")])) == ["Delta"]
    assert names(query.list("account", filters=[Condition("name", "contains", "0%")])) == ["Gamma 100%"]


def test_not_in_filter_keeps_blank_values(runtime, accounts):
    page = runtime.query().list("account", filters=[Condition("grade", "not_in", ["vip"])], sort=[SortKey("name")])
    assert names(page) == ["Beta", "Delta", "epsilon"]


def test_is_blank_filter_finds_missing_values(runtime, accounts):
    assert names(runtime.query().list("account", filters=[Condition("revenue", "is_blank")])) == ["Delta"]


def test_any_of_combines_conditions_with_or(runtime, accounts):
    page = runtime.query().list("account", any_of=[Condition("name", "eq", "Beta"), Condition("grade", "eq", "vip")],
                                sort=[SortKey("name")])
    assert names(page) == ["Acme", "Beta", "Gamma 100%"]


def test_filter_value_of_the_wrong_type_is_a_field_error(runtime, accounts):
    with pytest.raises(ValidationError) as caught:
        runtime.query().list("account", filters=[Condition("employees", "gt", "lots")])
    assert "employees" in caught.value.by_field()


def test_unknown_operator_is_refused_with_the_known_ones(runtime, accounts):
    with pytest.raises(ValidationError, match="known: eq"):
        runtime.query().list("account", filters=[Condition("name", "like", "x")])


def test_search_looks_through_text_fields(runtime, accounts):
    assert names(runtime.query().list("account", search="gam")) == ["Gamma 100%"]


@pytest.fixture
def branches(runtime, install):
    registry = install(ACCOUNT, QUOTE)
    runtime.records().bulk_create("account", [
        {"name": "Acme Trading", "region": "Beijing"},
        {"name": "Acme Beijing Branch", "region": "north"},
        {"name": "Trading Acme", "region": "Shanghai"},
        {"name": "北京分公司", "region": "华北"},
    ])
    return registry


def test_search_words_may_be_found_in_different_fields(runtime, branches):
    assert names(runtime.query().list("account", search="Acme Beijing", sort=[SortKey("name")])) == [
        "Acme Beijing Branch", "Acme Trading"]


def test_search_words_may_be_found_in_one_field_in_any_order(runtime, branches):
    assert names(runtime.query().list("account", search="branch  ACME")) == ["Acme Beijing Branch"]


def test_search_finds_nothing_when_one_word_is_held_nowhere(runtime, branches):
    query = runtime.query()
    assert names(query.list("account", search="Trading Shanghai")) == ["Trading Acme"]
    assert names(query.list("account", search="Trading Shanghai Guangzhou")) == []


def test_search_keeps_a_quoted_phrase_together(runtime, branches):
    query = runtime.query()
    assert names(query.list("account", search='"Acme Trading"')) == ["Acme Trading"]
    assert names(query.list("account", search='"Trading Acme" shanghai')) == ["Trading Acme"]


def test_search_splits_chinese_only_at_spaces(runtime, branches):
    query = runtime.query()
    assert names(query.list("account", search="分公司\u3000华北")) == ["北京分公司"]
    assert names(query.list("account", search="北京公司")) == []


def test_sort_puts_blanks_last_in_both_directions(runtime, accounts):
    query = runtime.query()
    ascending = query.list("account", sort=[SortKey("employees"), SortKey("name")])
    descending = query.list("account", sort=[SortKey("employees", "desc"), SortKey("name")])
    assert names(ascending) == ["Beta", "Delta", "Acme", "epsilon", "Gamma 100%"]
    assert names(descending) == ["Acme", "epsilon", "Delta", "Beta", "Gamma 100%"]


@pytest.mark.parametrize("sort", [[SortKey("employees")], [SortKey("revenue", "desc")], [SortKey("grade")], []])
def test_keyset_pages_visit_every_row_once_in_order(runtime, accounts, sort):
    query = runtime.query()
    everything = names(query.list("account", sort=sort, limit=100))
    seen, cursor = [], None
    while True:
        page = query.list("account", sort=sort, limit=2, cursor=cursor)
        seen.extend(names(page))
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == everything and len(seen) == 5


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 1200 + "]" * 1200, "is not a valid page cursor"),
    ("[[1], 2]", "is not a valid page cursor"),
    ('[{"$": "Decimal", "v": "NaN"}, 2]', "out of range"),
    ('[{"$": "Decimal", "v": "1e999999"}, 2]', "out of range"),
    ('[{"$": "date", "v": "soon"}, 2]', "not a date"),
    ("[NaN, 2]", "is not a valid page cursor"),
    ("[1, 9223372036854775808]", "outside the 64-bit range"),
    ('["fifty", 2]', "belongs to another sort order"),
])
def test_a_cursor_not_in_its_flat_shape_raises_cursor_error(runtime, accounts, text, message):
    with pytest.raises(CursorError) as caught:
        runtime.query().list("account", sort=[SortKey("employees")], cursor=_cursor(text))
    assert message in caught.value.message


def test_a_cursor_beyond_the_size_limit_raises_cursor_error_before_parsing(runtime, accounts):
    with pytest.raises(CursorError, match="too long"):
        runtime.query().list("account", cursor=_cursor(f'["{"x" * 20_000}"]'))


def test_list_reports_the_total_of_all_pages(runtime, accounts):
    page = runtime.query().list("account", limit=2, with_total=True)
    assert (len(page.rows), page.total) == (2, 5)


def test_count_applies_filters(runtime, accounts):
    assert runtime.query().count("account", filters=[Condition("employees", "ge", 12)]) == 3


def test_related_lists_children_pointing_at_the_record(runtime, accounts):
    records = runtime.records()
    records.create("quote", {"account": 1, "title": "one"})
    records.create("quote", {"account": 2, "title": "two"})
    page = runtime.query().related("account", 1, "quote", "account")
    assert [r["title"] for r in page.rows] == ["one"]


def test_titles_name_records_by_their_title_field(runtime, accounts):
    assert runtime.query().titles("account", [1, 2]) == {1: "Acme", 2: "Beta"}


def test_multipicklist_eq_matches_records_including_the_value(runtime, install):
    values = [{"value": v, "label": {"en": v}} for v in ("red", "green", "blue")]
    install(entity_doc("car", [{"name": "name", "type": "text"},
                               {"name": "colours", "type": "multipicklist", "values": values}]))
    runtime.records().bulk_create("car", [{"name": "a", "colours": ["red", "blue"]}, {"name": "b", "colours": ["green"]}])
    assert names(runtime.query().list("car", filters=[Condition("colours", "eq", "blue")])) == ["a"]


def test_condition_reads_as_a_sentence_with_labels(runtime, accounts):
    entity = accounts.entity("account")
    assert describe_condition(entity, Condition("grade", "in", ["vip", "regular"])) == "Grade is one of VIP, Regular"


@pytest.mark.parametrize("sort", [[SortKey("employees")], [SortKey("revenue", "desc")], [SortKey("grade")], []])
def test_walking_back_from_the_last_page_visits_every_row_in_reverse(runtime, accounts, sort):
    query = runtime.query()
    pages, cursor = [], None
    while True:
        page = query.list("account", sort=sort, limit=2, cursor=cursor)
        pages.append(names(page))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    back, before = [], page.prev_cursor
    while before is not None:
        earlier = query.list("account", sort=sort, limit=2, before=before)
        back.append(names(earlier))
        before = earlier.prev_cursor
    assert list(reversed(back)) == pages[:-1]


def test_first_page_has_no_previous_page(runtime, accounts):
    assert runtime.query().list("account", limit=2).prev_cursor is None


def test_paths_add_values_of_linked_records_to_each_row(runtime, accounts):
    runtime.records().create("quote", {"account": 2, "title": "one"})
    row = runtime.query().list("quote", paths=["account.name", "account.grade"]).rows[0]
    assert (row["account.name"], row["account.grade"]) == ("Beta", "regular")


def test_unknown_path_is_refused_by_name(runtime, accounts):
    with pytest.raises(ValidationError) as caught:
        runtime.query().list("quote", paths=["account.colour"])
    assert "account.colour" in caught.value.by_field()


def test_filter_across_a_lookup_selects_by_the_parent_value(runtime, accounts):
    records = runtime.records()
    records.create("quote", {"account": 1, "title": "for acme"})
    records.create("quote", {"account": 2, "title": "for beta"})
    page = runtime.query().list("quote", filters=[Condition("account.grade", "eq", "vip")])
    assert [r["title"] for r in page.rows] == ["for acme"]


def test_sort_across_a_lookup_pages_with_its_cursor(runtime, accounts):
    records = runtime.records()
    for account, title in ((2, "b"), (1, "a"), (5, "e"), (4, "d")):
        records.create("quote", {"account": account, "title": title})
    query = runtime.query()
    first = query.list("quote", sort=[SortKey("account.name", "desc")], limit=2)
    second = query.list("quote", sort=[SortKey("account.name", "desc")], limit=2, cursor=first.next_cursor)
    assert [r["title"] for r in first.rows + second.rows] == ["e", "d", "b", "a"]
