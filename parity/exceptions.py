"""parity's exception tree: one root, each room's errors under it.

    ParityError                      every error parity raises on purpose
     ├── parity.errors.UserError     the CLI's own: bad input; a click exception too
     │    └── parity.config.ConfigError       .key      parity.toml cannot be used
     ├── sessions.SessionFileError            .path     a session file or directory
     ├── sessions.SessionKeyError             .path     no key, or the wrong one, for an encrypted file
     ├── sessions.RecordError (ValueError)              a record of the wrong shape
     ├── sessions.keys.ProjectKeyError        .path     the project key (.parity/key)
     ├── sessions.secretstore.SecretStoreError .path    the secret store (.parity/secrets)
     ├── recorder.RecorderStartError                    the proxy cannot start
     ├── replayer.SendError                   .url      a target did not answer
     ├── replayer.ResetError                  .program  a reset hook failed
     ├── replayer.MissingSecret               .field    a redacted value without original
     ├── replayer.ResumeError                 .run      a run that cannot be resumed
     ├── differ.DecodeError                             a body cannot be decoded
     ├── differ.RulesError (ValueError)       .where    a malformed rules file
     ├── differ.PathSyntaxError (ValueError)  .pattern  a path pattern that does not parse
     ├── differ.XmlRefused (ValueError)                 XML the differ will not read
     └── triage.TriageError                   .path     the results database
          ├── NoDatabase, NotResultsDB
          └── NotFound, Ambiguous                       an id that names nothing, or many

The attribute is what the error is about, None where the raise site did not know it.
The command line turns any of them into one red line and exit code 2
(`parity.errors.exit_line`, the one place). Differences are not errors: a command that
finds them exits 1.

This module imports nothing, so every room may import its root (DESIGN.md).
"""

from __future__ import annotations


class ParityError(Exception):
    """The root: something parity cannot do, said in one line (`str(error)`)."""
