import pytest
from django.core.exceptions import PermissionDenied

from changemgmt import roles
from changemgmt.killswitches import policy
from changemgmt.killswitches.services import killswitch_flip
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# DESIGN.md: feature — platform_team, or a feature_owner in the feature's owner team;
# model — platform_team; tenant — support_eng. Everyone else (auditor and gateway included) may not.
ALLOWED = {
    "feature": {roles.PLATFORM_TEAM, roles.FEATURE_OWNER},
    "model": {roles.PLATFORM_TEAM},
    "tenant": {roles.SUPPORT_ENG},
}


@pytest.mark.parametrize("layer", ["feature", "model", "tenant"])
@pytest.mark.parametrize("role", roles.ALL_ROLES)
def test_it_lets_only_the_owners_flip(role, layer, switches, feature_owner, search_team):
    user = feature_owner if role == roles.FEATURE_OWNER else UserFactory(roles=[role])
    switch = switches[layer]
    if role in ALLOWED[layer]:
        result = killswitch_flip(
            layer, switch.key, engaged=True, reason="incident INC-1", acting_user=user
        )
        assert result.changed and result.switch.engaged
        assert policy.current_version() == 1
    else:
        with pytest.raises(PermissionDenied):
            killswitch_flip(layer, switch.key, engaged=True, reason="incident", acting_user=user)
        switch.refresh_from_db()
        assert not switch.engaged
        assert policy.current_version() == 0


def test_it_refuses_a_feature_owner_outside_the_owner_team(feature_switch):
    stranger = UserFactory(roles=[roles.FEATURE_OWNER])
    with pytest.raises(PermissionDenied):
        killswitch_flip(
            "feature", feature_switch.key, engaged=True, reason="x", acting_user=stranger
        )


def test_it_gives_a_superuser_no_bypass(model_switch):
    admin = UserFactory(is_superuser=True, is_staff=True)
    with pytest.raises(PermissionDenied):
        killswitch_flip("model", model_switch.key, engaged=True, reason="x", acting_user=admin)
