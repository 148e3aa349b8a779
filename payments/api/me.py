"""/api/v1/me/: who the credentials belong to, and their balance."""

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_view,
)
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_caller
from core.openapi import (
    error_responses,
)
from payments.api.serializers import (
    MeSerializer,
)


@extend_schema_view(
    get=extend_schema(
        summary="Who am I",
        description="Who the credentials belong to, and their balance.",
        responses={200: MeSerializer, **error_responses(429)},
        examples=[
            OpenApiExample(
                "A customer",
                response_only=True,
                value={
                    "email": "customer@example.com",
                    "is_staff": False,
                    "balance": "500.00",
                    "balance_currency": "TWD",
                },
            )
        ],
    )
)
class MeView(APIView):
    def get(self, request: Request) -> Response:
        """Who the caller is, and their balance."""
        return Response(MeSerializer(request_caller(request)).data)
