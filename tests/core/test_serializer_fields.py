"""`core.api.FieldsBuiltOnce`: a serializer's fields built once per class, copied per instance."""

from typing import Any

from rest_framework import serializers

from core.api import FieldsBuiltOnce
from payments.api.serializers import PaymentCreateSerializer, PaymentSerializer


def test_each_serializer_gets_fields_of_its_own_bound_to_it():
    # Built once, handed out as copies: a field shared by two serializers (two requests on two
    # threads) would be bound to whichever came last.
    first, second = PaymentSerializer(), PaymentSerializer()

    names = list(first.fields)
    assert names == list(second.fields)
    assert all(first.fields[name] is not second.fields[name] for name in names)
    assert first.fields["amount"].parent is first
    assert second.fields["amount"].parent is second


def test_the_fields_are_what_the_model_and_the_declarations_make_them():
    fields = PaymentSerializer().fields

    assert list(fields) == PaymentSerializer.Meta.fields
    assert fields["id"].source == "public_id"
    amount = fields["amount"]
    assert isinstance(amount, serializers.DecimalField)
    assert (amount.decimal_places, amount.read_only) == (2, True)


def test_a_nested_serializer_is_a_copy_of_its_own_with_fields_bound_to_it():
    first, second = PaymentCreateSerializer(), PaymentCreateSerializer()

    first_card: Any = first.fields["card"]
    second_card: Any = second.fields["card"]
    assert first_card is not second_card
    assert (first_card.parent, second_card.parent) == (first, second)
    assert first_card.fields["number"] is not second_card.fields["number"]
    assert first_card.fields["number"].root is first


class Tagged(FieldsBuiltOnce):
    tags = serializers.ListField(child=serializers.CharField(max_length=3))
    note = serializers.CharField(max_length=3)

    def validate_note(self, value: str) -> str:
        return f"{value}:{self.context['suffix']}"


def test_a_field_with_a_child_gets_a_child_of_its_own():
    first, second = Tagged(), Tagged()

    first_tags: Any = first.fields["tags"]
    second_tags: Any = second.fields["tags"]
    first_child, second_child = first_tags.child, second_tags.child
    assert first_child is not second_child
    assert first_child.parent is first_tags
    assert first_child.root is first


def test_instances_validate_alone_with_their_own_context():
    # The class's fields are built once; what each instance validates, and the errors it
    # keeps, are its own.
    good = Tagged(data={"tags": ["a", "b"], "note": "ok"}, context={"suffix": "1"})
    bad = Tagged(data={"tags": ["long"], "note": "much too long"}, context={"suffix": "2"})
    other = Tagged(data={"tags": [], "note": "hi"}, context={"suffix": "3"})

    assert bad.is_valid() is False
    assert good.is_valid() is True
    assert other.is_valid() is True
    assert good.validated_data == {"tags": ["a", "b"], "note": "ok:1"}
    assert other.validated_data == {"tags": [], "note": "hi:3"}
    assert set(bad.errors) == {"tags", "note"}
