from django.contrib.auth import views as auth_views
from django.urls import path

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    # Django signs out on POST only (a link could sign a customer out from another site).
    path("logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
]
