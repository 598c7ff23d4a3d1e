"""Anonymous evaluation of the courses: questionnaires per association, answers on the
facilitator's tablet or the person's phone, results with small counts suppressed."""
