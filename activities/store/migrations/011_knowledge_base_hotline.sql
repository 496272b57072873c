-- 报送 (Articles 4.6, 5.4, 6.6, 11): every knowledge-base entry and every training material goes to
-- the city hotline through its outbox (hotline_outbox, 003), one message per entry keyed by
-- run_id 'kb-<entry id>' and seq 0, so it is written once however often it is asked for. Kinds:
-- 'knowledge_base' (regulation, realtime, hot_topic) and 'training_material' (training). The code
-- writes the message in the transaction that stores the entry (activities/store/duties.py); this
-- migration reports the entries stored before it, with the same statement.

INSERT INTO hotline_outbox (run_id, seq, order_no, kind, body, payload, event_at)
SELECT 'kb-' || k.id, 0, '-',
       CASE WHEN k.kind = 'training' THEN 'training_material' ELSE 'knowledge_base' END,
       CASE WHEN k.kind = 'training'
            THEN 'training material for ' || to_char(k.month, 'YYYY-MM') || ' from ' || k.org
                 || ' (' || k.submitted_by || '): ' || k.title
            ELSE 'knowledge base entry (' || k.kind || ') from ' || k.org
                 || ' (' || k.submitted_by || '): ' || k.title
       END,
       jsonb_build_object(
           'entry', k.id,
           'category', k.kind,
           'org', k.org,
           'org_name', o.name_zh,
           'reported_by', CASE WHEN k.org = 'utilities' THEN 'utilities' ELSE 'dept-hotline' END,
           'submitted_by', k.submitted_by,
           'submitted_at', to_char(k.submitted_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS"+08:00"'),
           'title', k.title,
           'content', k.content,
           'month', CASE WHEN k.kind = 'training' THEN to_char(k.month, 'YYYY-MM') END
       ),
       k.submitted_at
FROM kb_submissions k JOIN organisations o ON o.id = k.org
ORDER BY k.id
ON CONFLICT (run_id, seq) DO NOTHING;
