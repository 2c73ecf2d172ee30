-- Account snapshots are the equity curve's points on the market clock (issue 11): `ts` is the market
-- time a point refers to (the replayed tick's time in a replay, the exchange's live), `reason` why it
-- was taken (fill, minute, session_end, stop), `recorded_at` the wall clock when it was written.
ALTER TABLE account_snapshots
    ADD COLUMN IF NOT EXISTS reason VARCHAR(16) NOT NULL DEFAULT '' AFTER ts,
    ADD COLUMN IF NOT EXISTS recorded_at DATETIME(3) NULL AFTER reason;
