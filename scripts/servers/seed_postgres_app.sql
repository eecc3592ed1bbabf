-- Seeds the `app` database of the trust PostgreSQL test cluster with planted synthetic
-- secrets, chat and PII (all values are fake). Run by postgres.sh over the unix socket.
CREATE TABLE public.chat_log (
    id serial PRIMARY KEY,
    user_email text,
    prompt text,
    response text,
    api_token text
);
INSERT INTO public.chat_log (user_email, prompt, response, api_token) VALUES
 ('jane.roe@mailbox.org',
  'Can you draft an email to my landlord about the broken heater?',
  'Of course. Here is a short, polite draft you can send today.',
  'sk-proj-Ab3dEf6hIj9kLmN0pQr2StUvWxYz12T3BlbkFJq8Rt5Yu1Io3Pa7Sd9Fg2Hj4Kl6Zx'),
 ('wang.lei@qq.com',
  'My card 4111 1111 1111 1111 was declined twice, what should I do next?',
  E'User: my card was declined twice\nAssistant: Please check the expiry date and call your bank.',
  NULL),
 ('bob.smith@corp-mail.net',
  'Summarise the attached quarterly report for the board in three bullet points',
  '{"messages":[{"role":"user","content":"summarise the report"},{"role":"assistant","content":"Revenue grew 12 percent."}]}',
  '');

CREATE SCHEMA crm;
CREATE TABLE crm.customers (
    id integer PRIMARY KEY,
    full_name varchar(100),
    email varchar(200),
    card_number char(19),
    balance numeric,
    notes jsonb
);
INSERT INTO crm.customers VALUES
 (1, 'Jane Roe', 'jane.roe@mailbox.org', '4111 1111 1111 1111', 231.50, '{"tier": "gold"}'),
 (2, 'Wang Lei', 'wang.lei@qq.com', NULL, 12.00, NULL);

-- A hostile table name: sampling must quote it, and the allowlist must see through it.
CREATE TABLE public."notes; DROP TABLE chat_log; --" (body text);
INSERT INTO public."notes; DROP TABLE chat_log; --" VALUES ('nothing to see here');

-- A view is listed, never sampled.
CREATE VIEW public.recent_chats AS SELECT id, prompt FROM public.chat_log;

ANALYZE;
