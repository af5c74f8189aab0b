-- One stored form for phone numbers: E.164 (issue 25 #14a). A number written without a
-- country code takes the workspace's calling code (no `+`; 86 = mainland China).
ALTER TABLE workspaces ADD COLUMN calling_code TEXT NOT NULL DEFAULT '86';

-- Existing rows, where the form is unambiguous: the international prefix 00 becomes +,
-- an 11-digit Chinese mobile (1, then 3-9) is +86, and one already behind 86 gets its +.
-- Other national numbers are left as they were; the phone search still finds them by
-- their national form.
UPDATE members SET phone = '+' || substr(phone, 3)
WHERE phone ~ '^00[1-9][0-9]*$' AND length(phone) BETWEEN 10 AND 17;
UPDATE members SET phone = '+86' || phone WHERE phone ~ '^1[3-9][0-9]{9}$';
UPDATE members SET phone = '+' || phone WHERE phone ~ '^861[3-9][0-9]{9}$';
