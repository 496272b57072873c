-- The handler gateway shows a confidential reporter's phone to the units assigned to the order
-- (they must call, Art. 8.4; the name is never shown, Art. 8.2). Every answer that carried it says
-- so in its audit row: `disclosed` names what was disclosed ('reporter_phone'); the row's token,
-- org and order_no say to whom and for which order. NULL: nothing personal was disclosed.

ALTER TABLE audit_log ADD COLUMN disclosed text;
CREATE INDEX audit_log_disclosed ON audit_log (order_no, at) WHERE disclosed IS NOT NULL;
