"""Reading a Prometheus exposition in tests."""

from collections.abc import Iterator
from typing import Any

from prometheus_client.parser import text_string_to_metric_families


def samples(text: bytes | str) -> Iterator[tuple[str, dict[str, str], float]]:
    """Each sample of an exposition: its name, labels and value."""
    decoded = text.decode() if isinstance(text, bytes) else text
    for family in text_string_to_metric_families(decoded):
        for sample in family.samples:
            yield sample.name, dict(sample.labels), sample.value


def value(text: bytes | str, name: str, **labels: Any) -> float:
    """The sum of a metric's samples whose labels include `labels` (0 if there are none)."""
    wanted = {key: str(item) for key, item in labels.items()}
    return sum(
        sample_value
        for sample_name, sample_labels, sample_value in samples(text)
        if sample_name == name and wanted.items() <= sample_labels.items()
    )
