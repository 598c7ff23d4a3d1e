"""The application factory, configuration and the French UI shell."""
import importlib

from stages import create_app


def test_create_app_accepts_a_mapping(app):
    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "ITEMS_PER_PAGE": 7})
    assert other.config["ITEMS_PER_PAGE"] == 7
    assert other.config["TIMEZONE"] == "Europe/Paris"


def test_wsgi_exposes_app():
    module = importlib.import_module("wsgi")
    assert module.app.name == "stages"


def test_secret_key_is_generated_and_persisted(tmp_path, monkeypatch):
    import config

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    first = config._secret_key()
    assert len(first) == 64
    assert config._secret_key() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_database_url_is_routed_to_psycopg(monkeypatch):
    import config

    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    assert config._database_url() == "postgresql+psycopg://u@h/db"
    monkeypatch.delenv("DATABASE_URL")
    assert config._database_url().startswith("sqlite:///")


def test_login_page_is_french_and_uses_local_assets(client):
    response = client.get("/connexion")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="fr"' in html
    assert "Se connecter" in html
    assert "/static/css/stages.css" in html
    assert "http://" not in html.replace("http://stages.test", "")
    assert "https://" not in html


def test_static_assets_are_served(client):
    for path in ("/static/css/stages.css", "/static/js/stages.js"):
        with client.get(path) as response:
            assert response.status_code == 200


def test_error_pages_are_french(client, make):
    response = client.get("/nulle-part")
    assert response.status_code == 404
    assert "Page introuvable" in response.get_data(as_text=True)
    response = client.post("/")
    assert response.status_code == 405
    assert "Méthode non autorisée" in response.get_data(as_text=True)


def test_internal_error_page_is_french_and_hides_details(app):
    from stages.errors import render_error

    with app.test_request_context("/"):
        body, code = render_error(500)
    assert code == 500
    assert "Erreur interne" in body
    assert "Traceback" not in body


def test_anonymous_home_redirects_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/connexion")


def test_huge_ids_in_urls_are_404_not_500(client, make):
    from stages.auth.models import Role
    from tests.helpers import login

    login(client, make.user(Role.ADMIN))
    for url in ("/stages/99999999999999999999", "/personnes/2147483648", "/lieux/10000000000/modifier"):
        assert client.get(url).status_code == 404, url
