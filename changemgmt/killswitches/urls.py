from django.urls import path

from . import views

app_name = "killswitches"
urlpatterns = [
    path("", views.console, name="console"),
    path("<str:layer>/<str:key>/flip/", views.flip, name="flip"),
    path("game-days/", views.game_days, name="game-days"),
    path("game-days/<int:pk>/", views.game_day, name="game-day"),
    path("game-days/<int:pk>/reschedule/", views.game_day_reschedule, name="reschedule"),
    path("game-days/<int:pk>/exercises/", views.exercise_start, name="exercise-start"),
    path("exercises/<int:pk>/verify/", views.exercise_verify, name="exercise-verify"),
    path("exercises/<int:pk>/restore/", views.exercise_restore, name="exercise-restore"),
    path(
        "exercises/<int:pk>/check-gateway/",
        views.exercise_check_gateway,
        name="exercise-check-gateway",
    ),
    path("<str:layer>/<str:key>/history/", views.switch_history, name="history"),
    # Last: two free segments would shadow "game-days/<pk>/" above.
    path("<str:layer>/<str:key>/", views.switch, name="switch"),
]
