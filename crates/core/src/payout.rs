//! Payout vocabulary: purpose codes, who pays the fee, statuses and the transitions between them.

use std::fmt;
use std::str::FromStr;

/// The 23 purpose codes of UQPAY v1.6, with the human label UQPAY derives as `payout_reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PurposeCode {
    AudioVisualServices,
    BillPayment,
    BusinessExpenses,
    Construction,
    DonationCharitableContribution,
    EducationTraining,
    FamilySupport,
    Freight,
    GoodsPurchased,
    InvestmentCapital,
    InvestmentProceeds,
    LivingExpenses,
    LoanCreditRepayment,
    MedicalServices,
    Pension,
    PersonalRemittance,
    ProfessionalBusinessServices,
    RealEstate,
    Taxes,
    TechnicalServices,
    TransferToOwnAccount,
    Travel,
    WagesSalary,
}

const PURPOSES: &[(PurposeCode, &str, &str)] = &[
    (PurposeCode::AudioVisualServices, "AUDIO_VISUAL_SERVICES", "Audiovisual services"),
    (PurposeCode::BillPayment, "BILL_PAYMENT", "Bill payment"),
    (PurposeCode::BusinessExpenses, "BUSINESS_EXPENSES", "Business expenses"),
    (PurposeCode::Construction, "CONSTRUCTION", "Construction"),
    (
        PurposeCode::DonationCharitableContribution,
        "DONATION_CHARITABLE_CONTRIBUTION",
        "Donation/charitable contribution",
    ),
    (PurposeCode::EducationTraining, "EDUCATION_TRAINING", "Education/training"),
    (PurposeCode::FamilySupport, "FAMILY_SUPPORT", "Family support"),
    (PurposeCode::Freight, "FREIGHT", "Freight"),
    (PurposeCode::GoodsPurchased, "GOODS_PURCHASED", "Goods purchased"),
    (PurposeCode::InvestmentCapital, "INVESTMENT_CAPITAL", "Investment capital"),
    (PurposeCode::InvestmentProceeds, "INVESTMENT_PROCEEDS", "Investment proceeds"),
    (PurposeCode::LivingExpenses, "LIVING_EXPENSES", "Living expenses"),
    (PurposeCode::LoanCreditRepayment, "LOAN_CREDIT_REPAYMENT", "Loan/credit repayment"),
    (PurposeCode::MedicalServices, "MEDICAL_SERVICES", "Medical services"),
    (PurposeCode::Pension, "PENSION", "Pension"),
    (PurposeCode::PersonalRemittance, "PERSONAL_REMITTANCE", "Personal remittance"),
    (PurposeCode::ProfessionalBusinessServices, "PROFESSIONAL_BUSINESS_SERVICES", "Professional/business services"),
    (PurposeCode::RealEstate, "REAL_ESTATE", "Real estate"),
    (PurposeCode::Taxes, "TAXES", "Taxes"),
    (PurposeCode::TechnicalServices, "TECHNICAL_SERVICES", "Technical services"),
    (PurposeCode::TransferToOwnAccount, "TRANSFER_TO_OWN_ACCOUNT", "Transfer to own account"),
    (PurposeCode::Travel, "TRAVEL", "Travel"),
    (PurposeCode::WagesSalary, "WAGES_SALARY", "Wages/salary"),
];

impl PurposeCode {
    pub fn all() -> impl Iterator<Item = PurposeCode> {
        PURPOSES.iter().map(|(p, _, _)| *p)
    }

    pub fn code(self) -> &'static str {
        PURPOSES.iter().find(|(p, _, _)| *p == self).map_or("", |(_, c, _)| c)
    }

    /// UQPAY's `payout_reason`.
    pub fn label(self) -> &'static str {
        PURPOSES.iter().find(|(p, _, _)| *p == self).map_or("", |(_, _, l)| l)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of the 23 UQPAY purpose codes, such as WAGES_SALARY or GOODS_PURCHASED")]
pub struct UnknownPurpose;

impl FromStr for PurposeCode {
    type Err = UnknownPurpose;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PURPOSES.iter().find(|(_, c, _)| *c == s).map(|(p, _, _)| *p).ok_or(UnknownPurpose)
    }
}

/// Who bears the bank charges of a SWIFT payout (SHA / OUR).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FeePaidBy {
    Shared,
    Ours,
}

impl FeePaidBy {
    pub fn code(self) -> &'static str {
        match self {
            FeePaidBy::Shared => "SHARED",
            FeePaidBy::Ours => "OURS",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be SHARED or OURS")]
pub struct UnknownFeePaidBy;

impl FromStr for FeePaidBy {
    type Err = UnknownFeePaidBy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "SHARED" => Ok(FeePaidBy::Shared),
            "OURS" => Ok(FeePaidBy::Ours),
            _ => Err(UnknownFeePaidBy),
        }
    }
}

/// Outlay's finer payout states. The wire shows UQPAY's five (`wire_status`); the finer state is
/// exposed as `outlay_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PayoutState {
    /// Accepted and held, waiting for its payout date.
    Scheduled,
    /// Due: waiting to be handed to its rail.
    ReadyToSend,
    /// Handed to the rail, outcome not known yet.
    Sent,
    Completed,
    /// The rail refused or bounced it; the hold was voided.
    Failed,
    /// Compliance refused it; the hold was voided.
    Rejected,
    /// The client cancelled it before it was sent; the hold was voided.
    Cancelled,
    /// Money came back after completion.
    Returned,
    /// Held for compliance review (a screening hit or a rule set to review): the funds stay
    /// held and no rail takes it until a reviewer clears it (back to READY_TO_SEND or SCHEDULED)
    /// or rejects it (REJECTED).
    InReview,
    /// Above the account's approval threshold (maker-checker): the funds stay held and no rail
    /// takes it until a credential other than its creator approves it (on to IN_REVIEW when a
    /// compliance review is still open, else READY_TO_SEND or SCHEDULED) or declines it
    /// (CANCELLED). Compliance may reject it meanwhile (REJECTED); the creator may cancel it.
    AwaitingApproval,
}

impl PayoutState {
    pub fn code(self) -> &'static str {
        match self {
            PayoutState::Scheduled => "SCHEDULED",
            PayoutState::ReadyToSend => "READY_TO_SEND",
            PayoutState::Sent => "SENT",
            PayoutState::Completed => "COMPLETED",
            PayoutState::Failed => "FAILED",
            PayoutState::Rejected => "REJECTED",
            PayoutState::Cancelled => "CANCELLED",
            PayoutState::Returned => "RETURNED",
            PayoutState::InReview => "IN_REVIEW",
            PayoutState::AwaitingApproval => "AWAITING_APPROVAL",
        }
    }

    /// UQPAY's wire status: READY_TO_SEND, PENDING, REJECTED, FAILED or COMPLETED.
    pub fn wire_status(self) -> &'static str {
        match self {
            PayoutState::Scheduled | PayoutState::ReadyToSend => "READY_TO_SEND",
            // UQPAY has no review or approval status: PENDING is its "being processed".
            PayoutState::Sent | PayoutState::InReview | PayoutState::AwaitingApproval => "PENDING",
            PayoutState::Completed => "COMPLETED",
            PayoutState::Failed | PayoutState::Cancelled | PayoutState::Returned => "FAILED",
            PayoutState::Rejected => "REJECTED",
        }
    }

    /// Whether the payout still holds its amount and fee in `pending`.
    pub fn holds_funds(self) -> bool {
        matches!(
            self,
            PayoutState::Scheduled
                | PayoutState::ReadyToSend
                | PayoutState::Sent
                | PayoutState::InReview
                | PayoutState::AwaitingApproval
        )
    }

    pub fn is_final(self) -> bool {
        !self.holds_funds() && self != PayoutState::Completed
    }

    /// The legal edges of the lifecycle; anything else is refused.
    pub fn can_become(self, next: PayoutState) -> bool {
        use PayoutState::*;
        matches!(
            (self, next),
            (Scheduled, ReadyToSend | Cancelled | Rejected)
                | (ReadyToSend, Sent | Cancelled | Rejected | Failed)
                | (Sent, Completed | Failed | Rejected)
                | (Completed, Returned)
                | (InReview, ReadyToSend | Scheduled | Rejected)
                | (AwaitingApproval, ReadyToSend | Scheduled | InReview | Cancelled | Rejected)
        )
    }
}

impl fmt::Display for PayoutState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for PayoutState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use PayoutState::*;
        [Scheduled, ReadyToSend, Sent, Completed, Failed, Rejected, Cancelled, Returned, InReview, AwaitingApproval]
            .into_iter()
            .find(|p| p.code() == s)
            .ok_or_else(|| format!("unknown payout state {s}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_three_purpose_codes_round_trip() {
        assert_eq!(PurposeCode::all().count(), 23);
        for p in PurposeCode::all() {
            assert_eq!(p.code().parse::<PurposeCode>(), Ok(p));
            assert!(!p.label().is_empty());
        }
        assert_eq!("wages_salary".parse::<PurposeCode>(), Err(UnknownPurpose));
        assert_eq!(PurposeCode::AudioVisualServices.label(), "Audiovisual services");
    }

    #[test]
    fn lifecycle_edges() {
        use PayoutState::*;
        assert!(ReadyToSend.can_become(Sent));
        assert!(Sent.can_become(Completed));
        assert!(Completed.can_become(Returned));
        assert!(!Sent.can_become(Cancelled), "a sent payout cannot be cancelled");
        assert!(!Completed.can_become(Failed));
        assert!(!Cancelled.can_become(ReadyToSend));
        assert_eq!(Cancelled.wire_status(), "FAILED");
        assert_eq!(Sent.wire_status(), "PENDING");
        assert!(Scheduled.holds_funds() && !Completed.holds_funds());
    }

    #[test]
    fn a_payout_in_review_keeps_its_hold_and_only_a_decision_moves_it() {
        use PayoutState::*;
        assert!(InReview.holds_funds());
        assert_eq!(InReview.wire_status(), "PENDING");
        assert_eq!("IN_REVIEW".parse::<PayoutState>(), Ok(InReview));
        for next in [ReadyToSend, Scheduled, Rejected] {
            assert!(InReview.can_become(next), "{next}");
        }
        for next in [Sent, Completed, Cancelled, Failed] {
            assert!(!InReview.can_become(next), "{next}");
        }
    }

    #[test]
    fn a_payout_awaiting_approval_keeps_its_hold_until_approved_or_declined() {
        use PayoutState::*;
        assert!(AwaitingApproval.holds_funds());
        assert!(!AwaitingApproval.is_final());
        assert_eq!(AwaitingApproval.wire_status(), "PENDING");
        assert_eq!("AWAITING_APPROVAL".parse::<PayoutState>(), Ok(AwaitingApproval));
        for next in [ReadyToSend, Scheduled, InReview, Cancelled, Rejected] {
            assert!(AwaitingApproval.can_become(next), "{next}");
        }
        for next in [Sent, Completed, Failed, Returned] {
            assert!(!AwaitingApproval.can_become(next), "{next}");
        }
        for from in [Scheduled, ReadyToSend, Sent, InReview, Completed] {
            assert!(!from.can_become(AwaitingApproval), "{from}");
        }
    }
}
