from celery import shared_task


@shared_task
def ping() -> str:
    """Answer "pong": lets an operator or a test see that a worker takes tasks off the broker."""
    return "pong"
