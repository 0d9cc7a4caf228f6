package vm

func rdtsc() uint64

const haveRDTSC = true
