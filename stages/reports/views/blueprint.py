"""The reports area's blueprint: every page of the area adds its routes to it."""
from flask import Blueprint

bp = Blueprint("reports", __name__)
