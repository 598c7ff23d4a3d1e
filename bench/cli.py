"""``flask stages generate``: fill an empty database with national-scale data for benchmarks."""
from __future__ import annotations

import sys
import time
from datetime import date

import click
from flask.cli import with_appcontext

from stages.errors import DomainError
from stages.extensions import db


@click.command("generate")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Taille : 1.0 = dimensionnement national (20 000 stages, 200 000 personnes).")
@click.option("--seed", type=int, default=2026, show_default=True,
              help="Graine : même graine et même date de référence, mêmes données.")
@click.option("--today", "today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Date de référence AAAA-MM-JJ (par défaut : aujourd'hui).")
@click.option("--yes", is_flag=True, help="Ne pas demander de confirmation.")
@with_appcontext
def generate_command(scale: float, seed: int, today, yes: bool) -> None:
    """Fill an EMPTY database with realistic data in bulk, and print the benchmark logins."""
    from bench.generate import (
        BENCH_ACCOUNTS, BENCH_PASSWORD, check_empty, generate, make_plan, tidy_database,
    )

    try:
        plan = make_plan(scale)
        check_empty()  # before asking anything
    except DomainError as error:
        raise click.ClickException(error.message) from None
    reference: date | None = today.date() if today else None
    click.echo(
        f"Échelle {scale:g} : {_n(plan.courses)} stages, {plan.authorities} autorités, "
        f"{plan.associations + 2} associations, {plan.venues + 2} lieux, ~{_n(plan.staff)} comptes."
    )
    if not yes:
        click.confirm(
            f"Écrire ces données fictives dans {db.engine.url.render_as_string(hide_password=True)}"
            f" (des comptes au mot de passe connu seront créés) ?",
            abort=True,
        )
    try:
        with click.progressbar(length=plan.courses, label="Stages", file=sys.stderr) as bar:
            report = generate(scale, seed=seed, today=reference, progress=bar.update)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.remove()
    started = time.perf_counter()
    tidy_database()
    report.seconds += time.perf_counter() - started
    for table, count in sorted(report.counts.items()):
        click.echo(f"  {table:<28} {_n(count):>10}")
    click.echo(f"Généré en {report.seconds:.1f} s (graine {seed}, date de référence "
               f"{report.today.isoformat()}).")
    click.echo(f"Comptes de test (mot de passe : {BENCH_PASSWORD}) :")
    for email, name, role, scope in BENCH_ACCOUNTS:
        click.echo(f"  {email:<34} {role.label:<24} {scope or ''}")


def _n(number: int) -> str:
    """« 20 000 »: French thousands separator."""
    return f"{number:,}".replace(",", "\u202f")
