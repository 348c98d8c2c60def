import pytest
from pydantic import ValidationError

from titanium.core.settings import AuthSettings, BlogSettings, GatewaySettings, UsersSettings
from titanium.supervisor import public_url


def test_the_embedded_default_uses_sqlite_files_in_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("TITANIUM_DATA_DIR", str(tmp_path))
    assert UsersSettings().users_database_url == f"sqlite:///{tmp_path / 'users.db'}"
    assert BlogSettings().blog_database_url == f"sqlite:///{tmp_path / 'blog.db'}"
    assert BlogSettings().redis_url is None


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TITANIUM_BLOG_URL", "http://blog:8005")
    monkeypatch.setenv("TITANIUM_UPSTREAM_READ_TIMEOUT", "2.5")
    settings = GatewaySettings()
    assert settings.blog_url == "http://blog:8005"
    assert settings.upstream_read_timeout == 2.5
    assert settings.port == 8000


def test_production_refuses_to_start_without_a_signing_key(monkeypatch):
    monkeypatch.setenv("TITANIUM_ENV", "production")
    with pytest.raises(ValidationError, match="TITANIUM_JWT_PRIVATE_KEY"):
        AuthSettings()
    monkeypatch.setenv("TITANIUM_JWT_PRIVATE_KEY_FILE", "/run/secrets/jwt.pem")
    assert AuthSettings().jwt_private_key_file is not None


def test_production_refuses_the_sqlite_default(monkeypatch):
    monkeypatch.setenv("TITANIUM_ENV", "production")
    with pytest.raises(ValidationError, match="TITANIUM_BLOG_DATABASE_URL"):
        BlogSettings()
    monkeypatch.setenv("TITANIUM_USERS_DATABASE_URL", "postgresql://u@db/titanium_users")
    assert UsersSettings().users_database_url == "postgresql://u@db/titanium_users"


def test_nonsense_is_refused(monkeypatch):
    monkeypatch.setenv("TITANIUM_MAX_BODY_BYTES", "-1")
    with pytest.raises(ValidationError):
        GatewaySettings()


def test_a_rate_limit_that_does_not_parse_is_refused_at_start(monkeypatch):
    monkeypatch.setenv("TITANIUM_LOGIN_RATE_LIMIT_PER_ADDRESS", "lots")
    with pytest.raises(ValidationError, match="'lots' is not a rate limit"):
        AuthSettings()
    monkeypatch.setenv("TITANIUM_LOGIN_RATE_LIMIT_PER_ADDRESS", "100 per hour")
    assert AuthSettings().login_rate_limit_per_address == "100 per hour"


@pytest.mark.parametrize("given, kept", [("https://blog.example.com/", "https://blog.example.com"),
                                         ("http://127.0.0.1:8010", "http://127.0.0.1:8010")])
def test_the_public_url_is_an_origin(given, kept):
    assert BlogSettings(public_url=given).public_url == kept


@pytest.mark.parametrize("given", ["evil.example", "ftp://blog.example.com", "https://blog.example.com/blog",
                                   "https://user:pw@blog.example.com", "https://blog.example.com/?q=1"])
def test_a_public_url_that_is_not_an_origin_is_refused(given):
    with pytest.raises(ValidationError, match="not a public base URL"):
        BlogSettings(public_url=given)


def test_titanium_up_makes_its_gateway_the_public_url():
    assert public_url("127.0.0.1", 8010) == "http://127.0.0.1:8010"
    assert public_url("::1", 8000) == "http://[::1]:8000"
