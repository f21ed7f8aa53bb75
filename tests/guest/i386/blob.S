/* One user program embedded in the kernel: BLOB_PATH, BLOB_SYM, BLOB_END
 * come from the command line (meson custom_target). */
	.section .rodata
	.p2align 4
	.globl BLOB_SYM, BLOB_END
BLOB_SYM:
	.incbin BLOB_PATH
BLOB_END:
	.section .note.GNU-stack, "", @progbits
