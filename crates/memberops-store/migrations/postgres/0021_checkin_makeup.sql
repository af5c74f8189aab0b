-- Make-up check-ins (补签): the local month (YYYY-MM) a make-up was done in, counted
-- against the program's monthly limit; NULL for a real check-in.
ALTER TABLE checkins ADD COLUMN makeup_month TEXT;
