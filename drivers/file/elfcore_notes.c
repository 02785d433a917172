/* placeholder replaced in step 4 */
#include "file.h"
int file_notes_placeholder;
