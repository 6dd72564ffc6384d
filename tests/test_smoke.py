from datetime import timedelta

from .factories import GroupFactory, GroupLogoutRuleFactory


def test_idle_logout(logged_in, clock, user, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 60, "MESSAGE": "bye"}
    assert logged_in.get("/private/").status_code == 200
    clock.advance(61)
    response = logged_in.get("/private/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/private/"


def test_group(logged_in, clock, user, settings):
    settings.AUTO_LOGOUT = {}
    staff = GroupFactory(name="staff")
    GroupLogoutRuleFactory(group=staff, priority=10, idle_time=timedelta(minutes=5))
    user.groups.add(staff)
    assert logged_in.get("/private/").status_code == 200
    clock.advance(301)
    assert logged_in.get("/private/").status_code == 302
