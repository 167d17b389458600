"""The exercises done alone, at your own pace: appreciations, how I feel loved,
the connection self-check and our story.

Each is a page of the couple's space. What a partner wrote is read only
through ``Entry.objects.visible_to``, and only from the two current members:
a former partner's words never surface here.

One module per feature (its rules, form and page); ``common`` holds what
the pages share. The names are gathered here for ``journal.X`` callers.
"""

from __future__ import annotations

from exercises.journal.appreciations import (  # noqa: F401
    APPRECIATION,
    JOURNAL_DAYS,
    SLOT_LABELS,
    SLOTS,
    WEEK_DAYS,
    AppreciationDay,
    AppreciationForm,
    WeekRow,
    appreciation,
    appreciation_day,
    appreciation_key,
    appreciation_overview,
    initial_from,
    save_appreciations,
)
from exercises.journal.common import (  # noqa: F401
    after_save,
    local_today,
    partner_of,
    readable_entries,
    rerender,
)
from exercises.journal.connection_check import (  # noqa: F401
    EXERCISE_PAGES,
    HORIZONS,
    SELF_CHECK,
    WEIGHT,
    PlanStep,
    SelfCheckForm,
    exercise_link,
    get_help,
    plan_for,
    plan_step,
    self_check,
    self_check_page,
)
from exercises.journal.feeling_loved import (  # noqa: F401
    CLOSE_SECOND,
    QUIZ_ANSWERS,
    QUIZ_RESULT,
    LoveQuizForm,
    QuizResult,
    WayCount,
    love_quiz,
    quiz,
    quiz_result,
    read_result,
    save_quiz,
)
from exercises.journal.story import (  # noqa: F401
    ERAS,
    STORY,
    Memory,
    StoryForm,
    our_story,
    prompt_menu,
    prompts,
    story_memories,
    timeline,
)
