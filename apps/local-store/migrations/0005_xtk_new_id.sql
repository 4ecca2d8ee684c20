-- Campaign's shared id sequence, XtkNewId, that xtk:session#GetNewIds / GetNewIdsEx reserve ids from. The
-- tables of autopk schemas number their rows with their own identity sequences, which start at 1; this one
-- starts far above them (10^12), so an id reserved here and then written as a record's @id never meets an id
-- a table generated (apps/local-store/src/sequences/sequence.rpc-handlers.ts).
CREATE SEQUENCE IF NOT EXISTS xtknewid AS bigint START WITH 1000000000000 NO CYCLE;
