"""The background jobs and the commands that run them: the scheduler process, one sweep, the outbox sender.

This package is the glue between the clock, the application's settings and
the domain: it opens an application context, reads ``utcnow()``, calls the
rules where they live (the escalation sweep in ``hotline.escalation.sweep``,
the outbox in ``hotline.notify.service``, the spool replay in
``hotline.intake.replay``), commits or removes the session, and logs.

- ``scheduler``: the scheduler process (``flask --app app hotline scheduler``)
  and its jobs.
- ``outbox``: one pass of the SMS sender with the configured Twilio client.
- ``commands``: ``flask hotline scheduler | sweep | send-outbox | sync-clocks``.
"""
