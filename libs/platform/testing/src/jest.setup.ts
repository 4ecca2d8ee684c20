// Integration tests wait on real infrastructure (broker restarts, consumer-group joins).
jest.setTimeout(120_000);
