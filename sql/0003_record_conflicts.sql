-- Records that collided with one already stored: the same trade identity (gateway, exchange, trade
-- id, direction, trading day) or order identity (gateway, order id, trading day) arriving again with
-- other content. The first stays where it is; the newcomer is kept here, whole, beside the stored
-- values it differs from. `uid` is derived from the kind, the key and the differing content, so the
-- same newcomer replayed after every reconnect (or from the spool) is kept, and raised, once.

CREATE TABLE IF NOT EXISTS record_conflicts (
    id           BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    uid          CHAR(32)     NOT NULL,
    kind         VARCHAR(16)  NOT NULL,
    natural_key  JSON         NOT NULL,
    stored       JSON         NOT NULL,
    received     JSON         NOT NULL,
    differences  JSON         NOT NULL,
    detected_at  DATETIME(3)  NOT NULL,
    UNIQUE KEY uq_conflict_uid (uid),
    KEY idx_conflict_detected (detected_at),
    KEY idx_conflict_kind_detected (kind, detected_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
