"""PostgreSQL enforcement of PC5: a closed period never changes again, whatever writes to it
(raw SQL, QuerySet.update, the shell). Raised as an integrity violation so Django reports an
IntegrityError."""

PERIOD_CLOSED_FOREVER = """
CREATE OR REPLACE FUNCTION closebooks_period_closed_forever() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'closed period % of company % cannot be deleted (PC5)', OLD.month, OLD.company_id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF NEW.state <> 'closed' OR NEW.month <> OLD.month OR NEW.company_id <> OLD.company_id THEN
    RAISE EXCEPTION 'closed period % of company % can never be reopened (PC5)', OLD.month, OLD.company_id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER closebooks_period_closed_forever
  BEFORE UPDATE OR DELETE ON closebooks_period
  FOR EACH ROW WHEN (OLD.state = 'closed') EXECUTE FUNCTION closebooks_period_closed_forever();
"""

DROP_PERIOD_CLOSED_FOREVER = """
DROP TRIGGER IF EXISTS closebooks_period_closed_forever ON closebooks_period;
DROP FUNCTION IF EXISTS closebooks_period_closed_forever();
"""
