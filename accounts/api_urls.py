from django.urls import path

from . import api, api_v1

urlpatterns = [
    path("v1/users/", api_v1.UsersView.as_view(), name="v1-users"),
    # Docker's clients spell it without the slash; the schema lists the endpoint once.
    path("v1/users", api_v1.UsersView.as_view(schema=None)),
    path("v1/users/<str:username>/", api_v1.UserView.as_view(), name="v1-user"),
    path("v2/users/login", api.LoginView.as_view(), name="hub-login"),
    path("v2/users/2fa-login", api.TwoFactorLoginView.as_view(), name="hub-2fa-login"),
    path("v2/auth/token", api.AuthTokenView.as_view(), name="hub-auth-token"),
    path("v2/access-tokens", api.AccessTokenListView.as_view(), name="hub-access-tokens"),
    path(
        "v2/access-tokens/<uuid:token_uuid>",
        api.AccessTokenDetailView.as_view(),
        name="hub-access-token",
    ),
]
