/** The release version, reported by `--version` and `remediator_build_info`. */
export const VERSION = '0.1.0';
