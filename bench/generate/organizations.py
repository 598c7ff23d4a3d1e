"""Organizations, venues and accounts: the Paris cluster, the rest of France, admins, liaisons."""
from __future__ import annotations

import random
from datetime import timedelta

from stages.auth.models import Role
from stages.demo import STREETS, VENUES as PARIS_VENUES
from bench.generate.helpers import _ascii, _short, _token
from bench.generate.plan import (
    ASSOCIATION_NAMES,
    BENCH_ACCOUNTS,
    BENCH_FACILITATOR,
    BENCH_ORGANIZER,
    BENCH_PASSWORD,
    CITIES,
    HISTORY_DAYS,
    STAFF_FIRST_NAMES,
    VENUE_KINDS,
)
from bench.generate.records import _Cluster, _Lane, _Org, _Venue
from stages.auth.models import OrganizationKind
from stages.scheduling.programme.defaults import DEFAULT_CATALOGUE


class _Organizations:
    """``_World``'s organizations, venues and accounts (one row each, through the writer)."""

    # --- Organizations, venues, accounts ----------------------------------------------------

    def _org(self, name, short_name, kind, address, email=None) -> _Org:
        org = _Org(self.w.next_id("organizations"), name, short_name[:60], kind)
        self.w.add("organizations", dict(
            id=org.id, name=name, short_name=org.short_name, kind=kind, address=address,
            email=email, phone=None, archived_at=None,
            created_at=self.now - timedelta(days=HISTORY_DAYS + 30),
        ))
        if kind == OrganizationKind.ASSOCIATION:
            self._catalogue(org)
        return org

    def _catalogue(self, org: _Org) -> None:
        """The default catalogue every association starts with (the ORM listener's rows)."""
        for title, minutes, position, topics, description in DEFAULT_CATALOGUE:
            module_id = self.w.next_id("programme_modules")
            self.w.add("programme_modules", dict(
                id=module_id, organization_id=org.id, title=title, duration_minutes=minutes,
                description=description, default_position=position, archived_at=None,
                created_at=self.now - timedelta(days=HISTORY_DAYS + 30),
            ))
            for topic in topics:
                self.w.add("programme_module_topics", dict(module_id=module_id, topic=topic))
            if position is not None:
                org.default_modules.append(module_id)

    def _venue(self, name, address, postal_code, city, room, capacity, zone, **extra) -> _Venue:
        venue = _Venue(self.w.next_id("venues"), name, capacity, zone)
        self.w.add("venues", dict(
            id=venue.id, name=name, address=address, postal_code=postal_code, city=city,
            room=room, capacity=capacity, accessibility=extra.get("accessibility"),
            access_instructions=extra.get("access_instructions"),
            opening_hours=extra.get("opening_hours"), timezone=zone, archived_at=None,
            created_at=self.now - timedelta(days=HISTORY_DAYS + 30),
        ))
        return venue

    def _user(self, role: Role, orgs: list[_Org], full_name=None, email=None, rng=None) -> int:
        rng = rng or self.rng
        if full_name is None:
            full_name = f"{rng.choice(STAFF_FIRST_NAMES)} {rng.choice(self.names)}"
        known = email is not None
        if email is None:
            domain = _ascii(orgs[0].short_name if orgs else "stages").replace(" ", "-")[:30]
            base = _ascii(full_name).replace(" ", ".")
            email = f"{base}@{domain}.bench.test"
            n = 2
            while email in self.emails:
                email, n = f"{base}{n}@{domain}.bench.test", n + 1
        self.emails.add(email)
        self.staff += 1
        user_id = self.w.next_id("users")
        self.w.add("users", dict(
            id=user_id, email=email, full_name=full_name, password_hash=self.hashes[known],
            role=role, active=True, last_login_at=None,
            created_at=self.now - timedelta(days=rng.randint(30, HISTORY_DAYS)),
            session_epoch=0, feed_token=_token(rng),
        ))
        for org in orgs:
            self.w.add("user_organizations", dict(user_id=user_id, organization_id=org.id))
        return user_id

    def _password_hashes(self) -> dict[bool, str]:
        """Argon2 costs ~50 ms a hash: one for the known logins, one unusable for the rest."""
        from stages.auth.services import hash_password

        return {True: hash_password(BENCH_PASSWORD), False: hash_password(_token(self.rng))}

    def _paris_cluster(self) -> _Cluster:
        rng = random.Random(f"{self.seed}:paris")
        apcars = self._org("APCARS", "APCARS", OrganizationKind.ASSOCIATION,
                           "4 boulevard du Palais, 75001 Paris", "contact@apcars.example.org")
        scelles = self._org("Fondation Scelles", "Fondation Scelles", OrganizationKind.ASSOCIATION,
                            "14 rue Mondétour, 75001 Paris", "contact@scelles.example.org")
        authorities = [
            self._org("Parquet de Paris", "Parquet de Paris", OrganizationKind.PARQUET,
                      "Parvis du Tribunal de Paris, 75017 Paris"),
            self._org("Tribunal judiciaire de Paris", "TJ Paris", OrganizationKind.TRIBUNAL,
                      "Parvis du Tribunal de Paris, 75017 Paris"),
            self._org("SPIP de Paris", "SPIP Paris", OrganizationKind.SPIP,
                      "12-14 rue Charles Fourier, 75013 Paris"),
        ]
        venues = [
            self._venue(zone="Europe/Paris", **data) for data in PARIS_VENUES
        ]
        by_name = {org.name: org for org in (apcars, scelles, *authorities)}
        bench = {
            email: self._user(role, [by_name[scope]] if scope else [], name, email, rng)
            for email, name, role, scope in BENCH_ACCOUNTS
        }
        self.bench_ids = bench
        organizers = [bench[BENCH_ORGANIZER], self._user(Role.ORGANIZER, [apcars], rng=rng),
                      self._user(Role.ORGANIZER, [scelles], rng=rng)]
        apcars_pool = [bench[BENCH_FACILITATOR]] + [
            self._user(Role.FACILITATOR, [apcars], rng=rng) for _ in range(2)
        ]
        scelles_pool = [self._user(Role.FACILITATOR, [scelles], rng=rng) for _ in range(3)]
        lane = _Lane(venues, [apcars_pool, scelles_pool])
        return _Cluster("paris", [apcars, scelles], authorities, [lane], organizers,
                        [("Paris", "75017", "Paris", None)])

    def _other_clusters(self) -> list[_Cluster]:
        plan, rng = self.plan, self.rng
        cities = []
        remaining = plan.authorities - 3
        for city in CITIES:
            if remaining <= 0:
                break
            kinds = [OrganizationKind.PARQUET, OrganizationKind.TRIBUNAL, OrganizationKind.SPIP]
            cities.append((city, kinds[: min(3, remaining)]))
            remaining -= 3
        clusters = []
        for index in range(plan.associations):
            mine = cities[index :: plan.associations]
            first = mine[0][0]
            name = ASSOCIATION_NAMES[index % len(ASSOCIATION_NAMES)].format(first[0])
            association = self._org(
                name, _short(name), OrganizationKind.ASSOCIATION,
                f"{rng.randint(1, 90)} {rng.choice(STREETS)}, {first[1]} {first[0]}",
                f"contact@{_ascii(first[0]).replace(' ', '-')}-{index}.example.org",
            )
            authorities = []
            for (city, postal, dept, _zone), kinds in mine:
                for kind in kinds:
                    label = {"parquet": "Parquet de {}", "tribunal": "Tribunal judiciaire de {}",
                             "spip": "SPIP de {}"}[kind.value].format(city)
                    short = {"parquet": "Parquet {}", "tribunal": "TJ {}",
                             "spip": "SPIP {}"}[kind.value].format(city)
                    authorities.append(self._org(
                        label, short, kind, f"Palais de justice, {postal} {city}"))
            organizers = [self._user(Role.ORGANIZER, [association]) for _ in range(rng.randint(2, 3))]
            clusters.append(_Cluster(f"other-{index}", [association], authorities, [], organizers,
                                     [c for c, _ in mine]))
        self._other_venues(clusters)
        return clusters

    def _other_venues(self, clusters: list[_Cluster]) -> None:
        """Venues (lanes) shared out like the courses, each with two or three facilitators."""
        weights = [1 / (rank + 1) ** 0.7 for rank in range(len(clusters))]
        counts = [max(1, round(self.plan.venues * w / sum(weights))) for w in weights]
        names: set[str] = set()
        for cluster, count in zip(clusters, counts):
            for n in range(count):
                city, postal, _dept, zone = cluster.cities[n % len(cluster.cities)]
                kind, room = VENUE_KINDS[(n // len(cluster.cities)) % len(VENUE_KINDS)]
                name = kind.format(city)
                suffix = 2
                while name in names:
                    name, suffix = f"{kind.format(city)} ({suffix})", suffix + 1
                names.add(name)
                venue = self._venue(
                    name, f"{self.rng.randint(1, 120)} {self.rng.choice(STREETS)}", postal, city,
                    room, self.rng.randint(12, 20), zone or "Europe/Paris",
                    accessibility="Accès de plain-pied." if self.rng.random() < 0.7 else None,
                    opening_hours="Du lundi au vendredi, 9 h – 17 h",
                )
                pool = [self._user(Role.FACILITATOR, cluster.associations)
                        for _ in range(self.rng.randint(2, 3))]
                cluster.lanes.append(_Lane([venue], [pool]))

    def _admins(self) -> None:
        for _ in range(max(0, round(10 * self.plan.scale) - 1)):
            self._user(Role.ADMIN, [])

    def _liaisons(self, clusters: list[_Cluster]) -> None:
        """Whatever is left of the staff budget, spread over the authorities (at least one each)."""
        authorities = [a for c in clusters for a in c.authorities]
        budget = max(self.plan.staff - self.staff, len(authorities))
        # Index 0 is the Parquet de Paris, whose first liaison is the benchmark's login.
        for index in range(1, budget):
            self._user(Role.LIAISON, [authorities[index % len(authorities)]])
