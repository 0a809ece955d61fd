"""The web service: a bottle application (pages, JSON API, static assets shipped in the
package) served by cheroot over TLS, reading the database only."""
