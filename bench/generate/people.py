"""People and their measures: new participants (or former ones back), referrals, the backlog."""
from __future__ import annotations

import random
from datetime import date, time, timedelta

from stages.demo import BIRTH_PLACES, FIRST_NAMES, STREETS
from stages.enrollment.models import DecisionProcedure, LegalFrame, MeasureStatus, Payer, PaymentStatus
from stages.enrollment.services import search_key
from bench.generate.helpers import _ascii, _weighted_row
from bench.generate.plan import FEES, FRAMES, HISTORY_DAYS
from bench.generate.records import _Cluster, _Measure, _Slot
from stages.timeutil import local_to_utc


class _People:
    """``_World``'s participants and legal measures."""

    # --- People and measures -----------------------------------------------------------------

    def _new_measure(self, cluster: _Cluster, slot: _Slot | None, people_rng, rng,
                     decided: date | None = None) -> _Measure:
        frame, _, kind = _weighted_row(rng, FRAMES)
        candidates = [a for a in cluster.authorities if a.kind == kind] or cluster.authorities
        authority = rng.choice(candidates)
        if decided is None:
            decided = slot.start - timedelta(days=rng.randint(30, 150))
        facts = decided - timedelta(days=rng.randint(15, 120))
        deadline = decided + timedelta(days=rng.choice((120, 180, 180, 180, 240)))
        if rng.random() < 0.04 and self._former:
            participant_id = self._former.pop(rng.randrange(len(self._former)))
        else:
            participant_id = self._participant(cluster, people_rng, decided)
        fee = rng.choice(FEES)
        payer = Payer.PARTICIPANT if fee else Payer.WAIVED
        measure_id = self.w.next_id("legal_measures")
        paris = cluster.key == "paris"
        if paris or rng.random() < 0.5:  # the Paris format: year, day, number
            reference = (f"{decided.year % 100:02d}{rng.randint(100, 365):03d}"
                         f"{rng.randint(0, 999999):06d}")
        else:
            reference = f"{decided.year}/{rng.randint(1, 99999):05d}"
        created = local_to_utc(decided + timedelta(days=rng.randint(3, 15)), time(10, 30))
        row = dict(
            id=measure_id, participant_id=participant_id, frame=frame, authority_id=authority.id,
            handling_organization_id=cluster.associations[0].id, case_reference=reference,
            facts_date=facts, decision_date=decided,
            final_date=(None if frame == LegalFrame.ALTERNATIVE_POURSUITES
                        else decided + timedelta(days=10)),
            deadline=deadline, fee_cents=fee, payer=payer,
            # Set without a random draw: the same seed gives the same data as before them.
            procedure=(DecisionProcedure.ORDONNANCE_PENALE
                       if frame == LegalFrame.STAGE_CONTRAVENTION else None),
            penalty_set_in_advance=None, deadline_reason=None,
            payment_status=PaymentStatus.WAIVED if fee == 0 else PaymentStatus.PAID,
            certificate_recipient=authority.name, status=MeasureStatus.REFERRED,
            status_changed_at=created, withdrawal_reason=None, closed_at=None, import_key=None,
            created_at=created,
        )
        return _Measure(row, participant_id)

    def _participant(self, cluster: _Cluster, rng, decided: date) -> int:
        surname = rng.choice(self.names).upper()
        first = rng.choice(FIRST_NAMES)
        if rng.random() < 0.15:
            first = f"{first} {rng.choice(FIRST_NAMES)}"
        city, postal, _dept, _zone = rng.choice(cluster.cities)
        participant_id = self.w.next_id("participants")
        created = local_to_utc(decided + timedelta(days=rng.randint(3, 15)), time(10))
        self.w.add("participants", dict(
            id=participant_id, surname=surname, first_names=first,
            birth_date=date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28)),
            birth_place=rng.choice(BIRTH_PLACES),
            address=f"{rng.randint(1, 180)} {rng.choice(STREETS)}",
            postal_code=postal if cluster.key != "paris" else f"750{rng.randint(1, 20):02d}",
            city=city,
            phone="+336" + "".join(f"{rng.randint(10, 99)}" for _ in range(4)),  # E.164
            email=(f"{_ascii(first.split()[0])}.{_ascii(surname)}{rng.randint(1, 99)}@example.org"
                   if rng.random() < 0.7 else None),
            search_key=search_key(surname, first), anonymized_at=None, created_at=created,
            updated_at=created,
        ))
        return participant_id

    def _write_backlog(self, cluster: _Cluster, rng) -> None:
        """Referrals waiting for a date, and old ones returned to the authority unserved."""
        measure_rng = random.Random(f"{self.seed}:{cluster.key}:backlog")
        for i in range(cluster.backlog):
            decided = self.today - timedelta(days=measure_rng.randint(5, 150))
            measure = self._new_measure(cluster, None, rng, measure_rng, decided=decided)
            row = measure.row
            if i % 6 == 0:
                row["deadline"] = self.today + timedelta(days=measure_rng.randint(5, 25))
            if i % 9 == 0:
                row["deadline"] = max(decided, self.today - timedelta(days=measure_rng.randint(1, 10)))
            row["payment_status"] = PaymentStatus.WAIVED if row["fee_cents"] == 0 else PaymentStatus.DUE
            self._finalize(measure, None)
            self._audit("measure.created", row["created_at"], None, "LegalMeasure", row["id"],
                        measure.participant_id)
        withdrawn = max(1, cluster.courses // 5)
        for _ in range(withdrawn):
            decided = self.window[0] + timedelta(days=measure_rng.randint(0, HISTORY_DAYS - 400))
            measure = self._new_measure(cluster, None, rng, measure_rng, decided=decided)
            closed = local_to_utc(measure.row["deadline"] + timedelta(days=15), time(11))
            measure.row.update(
                status=MeasureStatus.WITHDRAWN, status_changed_at=closed, closed_at=closed,
                withdrawal_reason="Échéance dépassée sans stage possible : dossier renvoyé.",
            )
            self._finalize(measure, closed)
