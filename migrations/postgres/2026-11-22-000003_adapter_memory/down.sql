DROP TABLE adapter_memory;
