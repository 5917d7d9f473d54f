/** Exit codes of every command; `redis-probe --help` and the README list them. */
export const EXIT_OK = 0;
export const EXIT_TARGET_FAILED = 1;
export const EXIT_CONFIG = 2;
/** sysexits.h EX_SOFTWARE: apart from "a target failed" (1), so a crash never reads as a red target. */
export const EXIT_CRASH = 70;
/** sysexits.h EX_IOERR: the output went nowhere (a closed pipe), so `once` must not claim success. */
export const EXIT_OUTPUT = 74;
