#include "textflag.h"

// func Lines(addr uintptr)
TEXT ·Lines(SB), NOSPLIT|NOFRAME, $0-8
	MOVD	addr+0(FP), R0
	PRFM	(R0), PLDL1KEEP
	PRFM	64(R0), PLDL1KEEP
	RET
