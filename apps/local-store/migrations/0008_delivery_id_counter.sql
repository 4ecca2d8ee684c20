-- Campaign's DeliveryId counter: nms:delivery's @internalName defaults to 'DM'+CounterValue('DeliveryId'), which
-- xtk:persist#NewInstance (and Duplicate) fill with the next value (DM1, DM2…). Its own sequence, not XtkNewId, so
-- internal names stay short; a value taken is never handed out again, whether or not the delivery is saved
-- (apps/local-store/src/sequences/sequence.rpc-handlers.ts).
CREATE SEQUENCE IF NOT EXISTS deliveryid AS bigint START WITH 1 NO CYCLE;
