"""Card number checks shared by our API and the provider simulator."""


def card_number_valid(digits: str) -> bool:
    """12 to 19 digits whose Luhn checksum is right (catches most typos before any call)."""
    # isascii: str.isdigit() also accepts digits like "²" that int() cannot read.
    if not (digits.isascii() and digits.isdigit() and 12 <= len(digits) <= 19):
        return False
    total = 0
    for position, character in enumerate(reversed(digits)):
        value = int(character)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0
