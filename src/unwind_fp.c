/* placeholder: module not written yet */
typedef int qtop_placeholder_unwind_fp;
