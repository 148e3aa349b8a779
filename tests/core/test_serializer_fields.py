"""`core.api.FieldsBuiltOnce`: a ModelSerializer's fields built from the model once per class."""

from rest_framework import serializers

from payments.api.serializers import PaymentSerializer


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
