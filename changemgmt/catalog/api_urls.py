from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("features", api.FeatureViewSet, basename="api-feature")
router.register("models", api.ModelViewSet, basename="api-model")
router.register("tenants", api.TenantViewSet, basename="api-tenant")
router.register("cohorts", api.CohortViewSet, basename="api-cohort")

urlpatterns = router.urls
