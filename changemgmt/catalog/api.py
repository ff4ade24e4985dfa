"""Read-only catalog lists for people and CI pipelines (`/api/v1/features/` …), filterable."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import permissions, serializers, viewsets

from changemgmt import roles

from .models import AIFeature, AIModel, Cohort, Tenant


class CatalogReader(permissions.BasePermission):
    """Any human role reads the catalog; a gateway's machine account reads only its policy."""

    message = "Your role may not read the catalog."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return roles.is_human_reader(user) and not roles.has_role(user, roles.GATEWAY)


class FeatureSerializer(serializers.ModelSerializer):
    owner_team = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = AIFeature
        fields = [
            "slug",
            "name",
            "owner_team",
            "risk_tier",
            "customer_facing",
            "users_served",
            "fallback",
            "regions",
        ]


class ModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = AIModel
        fields = ["model_id", "provider"]


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["tenant_id", "name", "segment", "region"]


class CohortSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cohort
        fields = ["slug", "name"]


@extend_schema_view(
    list=extend_schema(tags=["catalog"], summary="AI features"),
    retrieve=extend_schema(tags=["catalog"], summary="One AI feature"),
)
class FeatureViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = AIFeature.objects.select_related("owner_team")
    serializer_class = FeatureSerializer
    permission_classes = [CatalogReader]
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"
    filterset_fields = {
        "risk_tier": ["exact"],
        "customer_facing": ["exact"],
        "owner_team__slug": ["exact"],
    }


@extend_schema_view(
    list=extend_schema(tags=["catalog"], summary="Models"),
    retrieve=extend_schema(tags=["catalog"], summary="One model"),
)
class ModelViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = AIModel.objects.all()
    serializer_class = ModelSerializer
    permission_classes = [CatalogReader]
    lookup_field = "model_id"
    lookup_value_regex = "[^/]+"
    filterset_fields = ["provider"]


@extend_schema_view(
    list=extend_schema(tags=["catalog"], summary="Tenants"),
    retrieve=extend_schema(tags=["catalog"], summary="One tenant"),
)
class TenantViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Tenant.objects.all()
    serializer_class = TenantSerializer
    permission_classes = [CatalogReader]
    lookup_field = "tenant_id"
    lookup_value_regex = "[^/]+"
    filterset_fields = ["segment", "region"]


@extend_schema_view(
    list=extend_schema(tags=["catalog"], summary="Cohorts"),
    retrieve=extend_schema(tags=["catalog"], summary="One cohort"),
)
class CohortViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Cohort.objects.all()
    serializer_class = CohortSerializer
    permission_classes = [CatalogReader]
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"
    filterset_fields = ["slug"]
